// Builds lending/web/static from npm packages: the compiled stylesheet and the design
// systems' scripts and assets. Run by `make` (nothing is fetched at run time).
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as sass from "sass";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const out = join(here, "..", "static");
const modules = join(root, "node_modules");

mkdirSync(out, { recursive: true });
const result = sass.compile(join(here, "application.scss"), {
  importers: [new sass.NodePackageImporter(root)],
  loadPaths: [root],
  style: "compressed",
  quietDeps: true,
  logger: sass.Logger.silent,
  silenceDeprecations: ["import"],
});
writeFileSync(join(out, "application.css"), result.css);

const govuk = join(modules, "govuk-frontend", "dist", "govuk");
const moj = join(modules, "@ministryofjustice", "frontend", "moj");
cpSync(join(govuk, "govuk-frontend.min.js"), join(out, "govuk-frontend.min.js"));
cpSync(join(moj, "moj-frontend.min.js"), join(out, "moj-frontend.min.js"));
// Icons and images the stylesheets name; the fonts stay behind (system fonts only).
cpSync(join(govuk, "assets", "images"), join(out, "govuk", "assets", "images"),
  { recursive: true });
cpSync(join(moj, "assets", "images"), join(out, "moj", "assets", "images"), { recursive: true });
// The camera page's QR decoder for browsers without a BarcodeDetector.
cpSync(join(modules, "jsqr", "dist", "jsQR.js"), join(out, "jsqr.js"));
cpSync(join(modules, "axe-core", "axe.min.js"), join(root, "tests", "web", ".axe.min.js"));
console.log("built lending/web/static");
