// Shared helpers of the browser tests: start `patchbay serve` on a free port (or the UI's dev
// server with UI_SERVER=dev), drive Debian's chromium through playwright-core, save screenshots.
//
// Environment (set by tests/CMakeLists.txt):
//   PATCHBAY_CLI    the patchbay binary          UI_E2E_LAB     the ui_e2e_lab program
//   UI_SCREENSHOTS  where screenshots go         CHROMIUM       browser (default /usr/bin/chromium)
import { spawn } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const SOURCE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(join(SOURCE_DIR, "ui/package.json"));

export function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run the UI tests through ctest)`);
  return v;
}

// A phrase of ui/placeholder.html: a binary built without the page embeds it instead.
const PLACEHOLDER_MARK = "The devtools UI was not built into this binary";

// What these tests need and a fresh machine may lack, each with the way to get it; [] when all is
// there. Checked once before any test, so a missing piece fails in seconds with its name instead
// of every waitFor running into its timeout.
export function missingPrerequisites() {
  const missing = [];
  const browser = process.env.CHROMIUM ?? "/usr/bin/chromium";
  try {
    accessSync(browser, constants.X_OK);
  } catch {
    missing.push(`chromium at ${browser} (apt-get install chromium; scripts/setup.sh does it)`);
  }
  try {
    require.resolve("playwright-core");
  } catch {
    missing.push(`${join(SOURCE_DIR, "ui/node_modules/playwright-core")} (cd ui && npm ci; scripts/setup.sh does it)`);
  }
  if (process.env.UI_SERVER !== "dev") {
    const cli = process.env.PATCHBAY_CLI;
    if (!cli) missing.push("PATCHBAY_CLI (run the UI tests through ctest)");
    else if (!existsSync(cli)) missing.push(`${cli} (build it first)`);
    else if (readFileSync(cli).includes(PLACEHOLDER_MARK)) missing.push(`the devtools page in ${cli}: it embeds ui/placeholder.html (cd ui && npm ci, then rebuild)`);
  }
  return missing;
}

{
  const missing = missingPrerequisites();
  if (missing.length) throw new Error(`the UI browser tests cannot run; missing:\n  ${missing.join("\n  ")}`);
}

export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), `pb-ui-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

async function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

// Runs a program to completion; rejects with its output when it fails.
export function run(cmd, args, opts = {}) {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 240_000);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) res(out);
      else rej(new Error(`${cmd} ${args.join(" ")} exited with ${code ?? signal}:\n${out}`));
    });
  });
}

// `patchbay serve DIR --bind 127.0.0.1:PORT` until stop(); resolves once /api/runs answers.
export async function startServer(dir) {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const [cmd, args] =
      process.env.UI_SERVER === "dev"
        ? [process.execPath, [join(SOURCE_DIR, "ui/dev/server.mjs"), dir, "--port", String(port)]]
        : [env("PATCHBAY_CLI"), ["serve", dir, "--bind", `127.0.0.1:${port}`]];
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const url = `http://127.0.0.1:${port}`;
    const exited = new Promise((res) => child.once("exit", (code) => res(code)));
    const deadline = Date.now() + 20_000;
    let ready = false;
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        if ((await fetch(`${url}/api/runs`)).ok) {
          ready = true;
          break;
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!ready) {
      child.kill("SIGKILL");
      await exited;
      // The free port can be taken between probing and binding: try another one.
      if (attempt < 2 && /in use/i.test(out)) continue;
      throw new Error(`server did not start: ${cmd} ${args.join(" ")}\n${out}`);
    }
    return {
      url,
      output: () => out,
      async stop() {
        if (child.exitCode !== null) return;
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(t);
      },
    };
  }
}

// Debian's chromium, headless, with a fresh profile.
export async function launchBrowser() {
  const { chromium } = require("playwright-core");
  const profile = tempDir("profile");
  const context = await chromium.launchPersistentContext(profile.dir, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1600, height: 1000 },
  });
  const errors = [];
  const watch = (page) => {
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => m.type() === "error" && !/Failed to load resource/.test(m.text()) && errors.push(m.text()));
  };
  context.pages().forEach(watch);
  context.on("page", watch);
  return {
    context,
    errors,
    async page() {
      return context.pages()[0] ?? (await context.newPage());
    },
    async close() {
      await context.close();
      profile.cleanup();
    },
  };
}

export async function screenshot(page, name) {
  const dir = process.env.UI_SCREENSHOTS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`) });
}

// Label boxes of the drawn topology that overlap each other: [] when the layout is clean.
export async function overlappingLabels(page) {
  return page.evaluate(() => {
    const boxes = [...document.querySelectorAll(".topo-svg .node-box, .topo-svg .node-label, .topo-svg .edge-label rect")].map((el) => {
      const r = el.getBoundingClientRect();
      const node = el.closest(".node");
      const owner = node ? node.getAttribute("data-id") : el.closest(".edge-label")?.getAttribute("data-edge");
      return { x: r.x, y: r.y, w: r.width, h: r.height, owner, what: `${owner}:${el.classList[0] ?? el.tagName}:${el.textContent}` };
    });
    const bad = [];
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i];
        const b = boxes[j];
        if (a.owner === b.owner) continue; // a node's own texts sit inside its box
        const eps = 0.5;
        if (a.x + eps < b.x + b.w && b.x + eps < a.x + a.w && a.y + eps < b.y + b.h && b.y + eps < a.y + a.h) bad.push(`${a.what} / ${b.what}`);
      }
    }
    // A node's texts must also stay inside its own box (text measured narrower than drawn).
    for (const node of document.querySelectorAll(".topo-svg .node")) {
      const box = node.querySelector(".node-box").getBoundingClientRect();
      for (const t of node.querySelectorAll(".node-label")) {
        const r = t.getBoundingClientRect();
        if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5) bad.push(`${node.getAttribute("data-id")}: "${t.textContent}" outside its box`);
      }
    }
    return { count: boxes.length, bad };
  });
}
