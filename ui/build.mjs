// Builds dist/index.html: src/main.ts bundled by esbuild and src/styles.css, both inlined into
// src/index.html, so the server embeds one self-contained file (no CDN, no second request).
// `node build.mjs --tests` instead bundles test/*.test.ts into .test-build/ for `node --test`.
import { build } from "esbuild";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));

async function buildPage() {
  const js = await build({
    entryPoints: [join(root, "src/main.ts")],
    bundle: true,
    minify: true,
    format: "iife",
    target: ["chrome110", "firefox110", "safari16"],
    write: false,
    legalComments: "none",
  });
  const css = await build({
    entryPoints: [join(root, "src/styles.css")],
    bundle: true,
    minify: true,
    write: false,
  });
  // "</script" or "</style" inside the inlined code would end the element early.
  const script = js.outputFiles[0].text.replace(/<\/(script)/gi, "<\\/$1");
  const style = css.outputFiles[0].text.replace(/<\/(style)/gi, "<\\/$1");
  const template = await readFile(join(root, "src/index.html"), "utf8");
  const html = template.replace("/*__CSS__*/", () => style).replace("/*__JS__*/", () => script);
  await mkdir(join(root, "dist"), { recursive: true });
  // Written to a temporary name and renamed, so a concurrent C++ build never embeds half a file.
  const out = join(root, "dist/index.html");
  await writeFile(`${out}.tmp`, html);
  await (await import("node:fs/promises")).rename(`${out}.tmp`, out);
  console.log(`ui: dist/index.html ${(html.length / 1024).toFixed(1)} KiB`);
}

async function buildTests() {
  const dir = join(root, "test");
  const entries = (await readdir(dir)).filter((f) => f.endsWith(".test.ts")).map((f) => join(dir, f));
  await rm(join(root, ".test-build"), { recursive: true, force: true });
  await build({
    entryPoints: entries,
    bundle: true,
    platform: "node",
    format: "esm",
    outdir: join(root, ".test-build"),
    outExtension: { ".js": ".mjs" },
    packages: "external",
    logLevel: "warning",
  });
}

if (process.argv.includes("--tests")) await buildTests();
else await buildPage();
