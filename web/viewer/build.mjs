// Builds the page of `unflat view` into src/unflat/assets/viewer/ (committed, so installing
// unflat needs no npm): `cd web/viewer && npm ci && npm run build`.
//
// Output: index.html, viewer.css, viewer.js.gz (one minified ES module: the page, three.js and
// Spark; served gzip-encoded) and THIRD_PARTY.txt (the licence of every package in the bundle).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "..", "src", "unflat", "assets", "viewer");
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: [join(here, "src", "main.js")],
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  legalComments: "none", // the licences go to THIRD_PARTY.txt, in full
  metafile: true,
  write: false,
  logLevel: "warning",
});
const code = result.outputFiles[0].contents;
// level 9 and no name or time in the header: the same sources give the same bytes
writeFileSync(join(out, "viewer.js.gz"), gzipSync(code, { level: 9 }));
for (const name of ["index.html", "viewer.css"]) copyFileSync(join(here, "src", name), join(out, name));

// every package whose files went into the bundle, with its licence text
const packages = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const match = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (match) packages.add(match[1]);
}
// a package's own dependencies may be inlined in its dist files (Spark inlines fflate)
for (const name of [...packages]) {
  const manifest = JSON.parse(readFileSync(join(here, "node_modules", name, "package.json"), "utf8"));
  for (const dependency of Object.keys(manifest.dependencies || {})) packages.add(dependency);
}
const notices = [
  "The page of `unflat view` (viewer.js.gz) bundles these packages from npm.\n",
];
for (const name of [...packages].sort()) {
  const root = join(here, "node_modules", name);
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const licenceFile = readdirSync(root).find((file) => /^licen[cs]e/i.test(file));
  const text = licenceFile ? readFileSync(join(root, licenceFile), "utf8").trim() : "(no file)";
  notices.push(`${"=".repeat(78)}\n${name} ${manifest.version} — ${manifest.license}\n`);
  notices.push(`${manifest.homepage || manifest.repository?.url || ""}\n\n${text}\n`);
}
writeFileSync(join(out, "THIRD_PARTY.txt"), notices.join("\n"));
console.log(
  `viewer.js: ${code.length} bytes, ${readFileSync(join(out, "viewer.js.gz")).length} gzipped; ` +
    `packages: ${[...packages].sort().join(", ")}`,
);
