/**
 * Import rules enforced in CI (`npm run check:imports`): no cycles, the layers of src/ only
 * import downwards, production code stays off the emulators, tests and devDependencies, and
 * every imported package is declared. Violations that main still has are listed, one by one,
 * in .dependency-cruiser-known-violations.json (ignored with --ignore-known); fixing one means
 * deleting its entry there, and any new violation fails.
 *
 * TypeScript 7 has no compiler API dependency-cruiser can use, so sources are parsed with swc
 * (@swc/core), which keeps type-only imports and marks them so; imports carry their `.ts`
 * extension and resolve as written (tsconfig.json has no paths).
 */

/** src/ layers, bottom first. A layer imports only from layers below it (and see sameLayer). */
const layers = [
  ["lib", "client"],
  ["errors"],
  ["domain"],
  ["config"],
  ["db", "staging", "destinations", "setup"],
  ["oidc"],
  ["providers"],
  ["recordings", "webhooks", "workspaces", "conversations"],
  ["delivery", "health"],
  ["ingest"],
  ["http"],
  ["runtime"],
  ["cli"],
  ["bin"],
];

/**
 * Imports allowed between folders of the same layer (none today: every edge runs downwards;
 * cycles between single modules are caught by no-circular).
 */
const sameLayer = {};

const known = layers.flat();
/** Production modules of src/ (colocated *.test.ts files are test code). */
const testFile = "\\.test\\.ts$";
const folders = (names) => `^src/(${names.join("|")})/`;

const layerRules = layers.flatMap((layer, index) =>
  layer.map((name) => {
    const allowed = [...layers.slice(0, index).flat(), name, ...(sameLayer[name] ?? [])];
    const forbidden = known.filter((other) => !allowed.includes(other));
    return {
      name: `layer-${name}`,
      comment: `src/${name} may import only ${allowed.filter((n) => n !== name).join(", ") || "nothing else"} of src/.`,
      severity: "error",
      from: { path: folders([name]), pathNot: testFile },
      to: { path: folders(forbidden) },
    };
  }),
);

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "Modules in a cycle (type-only imports count too).",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "src-layer-unknown",
      comment: `Every folder of src/ belongs to a layer (${known.join(", ")}): add it to .dependency-cruiser.cjs.`,
      severity: "error",
      from: { path: "^src/", pathNot: folders(known) },
      to: {},
    },
    ...layerRules,
    {
      name: "src-not-to-dev-code",
      comment:
        "Production code (src/, outside *.test.ts) never imports emulators/, test/, bench/, scripts/ or conformance/.",
      severity: "error",
      from: { path: "^src/", pathNot: testFile },
      to: { path: "^(emulators|test|bench|scripts|conformance)/" },
    },
    {
      name: "src-not-to-tests",
      comment: "Production code never imports a test file.",
      severity: "error",
      from: { path: "^src/", pathNot: testFile },
      to: { path: testFile },
    },
    {
      name: "emulators-not-to-src",
      comment:
        "The emulators stand for the clouds and know nothing of the relay; only the development entry emulators/dev/ drives the relay.",
      severity: "error",
      from: { path: "^emulators/", pathNot: "^emulators/dev/" },
      to: { path: "^(src|bench|scripts|emulators/dev|conformance)/" },
    },
    {
      name: "conformance-not-to-test",
      comment:
        "The conformance kit (conformance/) uses src/ and emulators/ only: it runs outside the test suite, which may import it.",
      severity: "error",
      from: { path: "^conformance/" },
      to: { path: "^(test|bench|scripts)/" },
    },
    {
      name: "emulators-not-to-test",
      comment: "Emulator code uses no test helpers (emulator tests may read test/fixtures).",
      severity: "error",
      from: { path: "^emulators/", pathNot: testFile },
      to: { path: "^test/" },
    },
    {
      name: "not-to-dev-dep",
      comment:
        "Production code (src/, outside *.test.ts) imports only packages in `dependencies`: `npm install --omit=dev` leaves devDependencies out. Type-only imports are erased before running and may use devDependencies.",
      severity: "error",
      from: { path: "^src/", pathNot: testFile },
      to: { dependencyTypes: ["npm-dev"], dependencyTypesNot: ["type-only"] },
    },
    {
      name: "no-non-package-json",
      comment: "Every imported package is declared in package.json.",
      severity: "error",
      from: {},
      to: { dependencyTypes: ["npm-no-pkg", "npm-unknown"] },
    },
    {
      name: "not-to-unresolvable",
      comment: "Every import resolves to a file or a package.",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: "no-duplicate-dependency-types",
      comment: "A package is in one of dependencies and devDependencies, not both.",
      severity: "error",
      from: {},
      to: { moreThanOneDependencyType: true, dependencyTypesNot: ["type-only"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    parser: "swc",
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".js", ".json"],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: { text: { highlightFocused: true } },
  },
};
