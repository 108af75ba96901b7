// Dependency rules over backend/src, run by `npm run deps` (part of `npm test`). Rules name folders, not files, so
// they keep holding as code moves between them. Type-only imports count (tsPreCompilationDeps): a cycle or a
// forbidden import through `import type` couples the code just the same.

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes both ends one module in disguise: move what they share so dependencies point one way.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'access-is-pure',
      severity: 'error',
      comment: 'access/ decides from facts it is handed: it imports only access/ and zod (no node: builtins, no I/O, no HubSpot).',
      from: { path: '^backend/src/access/' },
      to: { pathNot: ['^backend/src/access/', '(^|/)node_modules/zod/'] },
    },
    {
      name: 'hubspot-is-a-leaf',
      severity: 'error',
      comment: 'hubspot/ talks to HubSpot and returns domain shapes; it never reaches into the layers that use it.',
      from: { path: '^backend/src/hubspot/' },
      to: { path: '^backend/src/(tokens|store|access|routes|usecases|pipeline|viewer|plugins)/' },
    },
    {
      name: 'routes-only-from-composition-root',
      severity: 'error',
      comment: 'Routes are the top of the graph: only app.ts registers them (a route may share helpers with other routes).',
      from: { path: '^backend/src/', pathNot: ['^backend/src/app\\.ts$', '^backend/src/routes/'] },
      to: { path: '^backend/src/routes/' },
    },
    {
      name: 'no-dev-code-in-src',
      severity: 'error',
      comment: 'The service ships without tests, scripts, benchmarks or the HubSpot project: backend/src must not import them.',
      from: { path: '^backend/src/' },
      to: { path: '^(test|scripts|bench|hubspot-project)/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve is invisible to every rule above.',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-non-package-json',
      severity: 'error',
      comment: 'A package that is not in package.json works only by accident of what else is installed.',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'not-to-dev-dep',
      severity: 'error',
      comment: 'backend/src runs in production, where devDependencies are not installed (type-only imports are erased).',
      from: { path: '^backend/src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: '(^|/)node_modules/' },
    // `import type` and `import('x').T` are dependencies too.
    tsPreCompilationDeps: true,
    // Relative imports carry NodeNext's `.js` suffix; dependency-cruiser retries a missing `.js` as `.ts`/`.tsx`
    // itself. The tsconfig adds its compiler options (and `paths`, should it ever get any).
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
