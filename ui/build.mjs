// Builds the page: src/main.ts bundled by esbuild and src/styles.css, both inlined into
// src/index.html, so the server embeds one self-contained file (no CDN, no second request).
// Written to dist/index.html, or to the path after --out (the C++ build writes into its build dir).
// `node build.mjs --tests` instead bundles test/*.test.ts for `node --test` into .test-build/, or
// into $UI_TEST_BUILD_DIR (ctest points it into the build dir: the source tree may be read-only).
import { build } from "esbuild";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
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
  const at = process.argv.indexOf("--out");
  const out = at > 0 && process.argv[at + 1] ? resolve(process.argv[at + 1]) : join(root, "dist/index.html");
  await mkdir(dirname(out), { recursive: true });
  // Written to a temporary name and renamed, so a concurrent reader never sees half a file.
  await writeFile(`${out}.tmp`, html);
  await rename(`${out}.tmp`, out);
  console.log(`ui: ${out} ${(html.length / 1024).toFixed(1)} KiB`);
}

async function buildTests() {
  const dir = join(root, "test");
  const entries = (await readdir(dir)).filter((f) => f.endsWith(".test.ts")).map((f) => join(dir, f));
  const outdir = process.env.UI_TEST_BUILD_DIR ? resolve(process.env.UI_TEST_BUILD_DIR) : join(root, ".test-build");
  // Empty it rather than remove it: a rootless run may own the directory's contents but not its
  // parent (scripts/test.sh --rootless).
  await mkdir(outdir, { recursive: true });
  for (const f of await readdir(outdir)) await rm(join(outdir, f), { recursive: true, force: true });
  await build({
    entryPoints: entries,
    bundle: true,
    platform: "node",
    format: "esm",
    outdir,
    outExtension: { ".js": ".mjs" },
    packages: "external",
    logLevel: "warning",
  });
}

if (process.argv.includes("--tests")) await buildTests();
else await buildPage();
