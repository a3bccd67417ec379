// Prints the HCL files named on the command line as one JSON object {path: parsed}, parsed
// by @cdktf/hcl2json (Terraform's own HCL parser, compiled to WebAssembly). The assertions
// live in tests/deploy/test_terraform.py.
import { readFileSync } from "node:fs";
import { parse } from "@cdktf/hcl2json";

const out = {};
for (const path of process.argv.slice(2)) {
  out[path] = await parse(path, readFileSync(path, "utf8"));
}
process.stdout.write(JSON.stringify(out));
