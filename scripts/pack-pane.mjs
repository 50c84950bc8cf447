// Packs the built task pane from web/ into web/dist/, the folder the server serves (and embeds in
// release builds): the pane's files under a content-hashed folder v/<hash>/ (cached for a year),
// taskpane.html pointing at them (revalidated on every opening), the icons the manifest names, the
// Outlook sandbox (served only by the demo), and .br/.gz beside every text file.
// Run by scripts/build-wasm after wasm-bindgen; prints the compressed sizes.
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const web = join(dirname(new URL(import.meta.url).pathname), "..", "web");
const out = join(web, "dist");
const staging = join(web, "dist.tmp");

// What the pane loads; taskpane.html refers to these, and they to each other by relative paths.
const paneFiles = [
  "taskpane.css",
  "js/office.js",
  "js/taskpane.js",
  "pkg/addin_wasm.js",
  "pkg/addin_wasm_bg.wasm",
  "vendor/msal-browser.min.js",
  ...readdirSync(join(web, "assets")).map((f) => `assets/${f}`),
];
const sandboxFiles = ["sandbox.html", "sandbox.css", "js/sandbox.js"];
const compressible = /\.(html|css|js|wasm|json|svg)$/;

for (const f of [...paneFiles, ...sandboxFiles, "taskpane.html"]) {
  if (!existsSync(join(web, f))) throw new Error(`web/${f} is missing: build the pane first`);
}
const hash = createHash("sha256");
for (const f of [...paneFiles, "taskpane.html"]) hash.update(f).update(readFileSync(join(web, f)));
const version = `v/${hash.digest("hex").slice(0, 16)}`;
// Everything packed, and this script: when none of it changed, web/dist is left untouched, so the
// release build that embeds it is not redone.
const inputs = createHash("sha256").update(version).update(readFileSync(new URL(import.meta.url)));
for (const f of sandboxFiles) inputs.update(f).update(readFileSync(join(web, f)));
const stamp = join(dirname(out), "dist.inputs");
const inputsHash = inputs.digest("hex");
if (existsSync(join(out, version)) && existsSync(stamp) && readFileSync(stamp, "utf8") === inputsHash) {
  console.error("  web/dist is up to date");
  process.exit(0);
}

rmSync(staging, { recursive: true, force: true });
const put = (path, bytes) => {
  const target = join(staging, path);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, bytes);
};
for (const f of paneFiles) put(`${version}/${f}`, readFileSync(join(web, f)));
for (const f of sandboxFiles) put(f, readFileSync(join(web, f)));
cpSync(join(web, "assets"), join(staging, "assets"), { recursive: true });
const html = readFileSync(join(web, "taskpane.html"), "utf8").replace(
  /\b(src|href)="([^":]+)"/g,
  (whole, attribute, path) => (paneFiles.includes(path) ? `${attribute}="${version}/${path}"` : whole),
);
put("taskpane.html", html);

// Precompressed siblings, kept only where they are smaller.
const sizes = {};
const walk = (dir) => readdirSync(dir).flatMap((name) => {
  const path = join(dir, name);
  return statSync(path).isDirectory() ? walk(path) : [path];
});
for (const path of walk(staging).filter((p) => compressible.test(p))) {
  const bytes = readFileSync(path);
  const gz = gzipSync(bytes, { level: 9 });
  const br = brotliCompressSync(bytes, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
  });
  if (gz.length < bytes.length) writeFileSync(`${path}.gz`, gz);
  if (br.length < bytes.length) writeFileSync(`${path}.br`, br);
  sizes[path.slice(staging.length + 1)] = { raw: bytes.length, gz: gz.length, br: br.length };
}
rmSync(out, { recursive: true, force: true });
renameSync(staging, out);
writeFileSync(stamp, inputsHash);

// The first opening: the page and what it loads before it is interactive (MSAL comes later, and
// only where Outlook offers nested app authentication).
const firstLoad = Object.entries(sizes).filter(([p]) =>
  p === "taskpane.html" || (p.startsWith(version) && !p.includes("vendor/") && !sandboxFiles.includes(p)));
let gzTotal = 0;
let brTotal = 0;
for (const [path, size] of firstLoad) {
  gzTotal += size.gz;
  brTotal += size.br;
  console.error(`  ${path.replace(version, "v/…").padEnd(32)} ${String(size.raw).padStart(8)} B  ${String(size.gz).padStart(7)} B gzip  ${String(size.br).padStart(7)} B br`);
}
console.error(`  ${"first load".padEnd(32)} ${"".padStart(8)}    ${String(gzTotal).padStart(7)} B gzip  ${String(brTotal).padStart(7)} B br  (budget 102400 gzip)`);
if (gzTotal > 102400) {
  console.error("error: the task pane's first load is over its 100 KB gzip budget");
  process.exit(1);
}
