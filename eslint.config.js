import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

// Correctness only: layout is Prettier's job (npm run format), so no stylistic rule is enabled here.
export default defineConfig(
  globalIgnores(['**/node_modules/', 'data/', 'coverage/', '**/dist/', 'bench/results/']),
  { files: ['**/*.{js,mjs,ts,tsx}'], extends: [js.configs.recommended] },
  {
    files: ['**/*.{ts,tsx}'],
    extends: [tseslint.configs.strictTypeChecked],
    // Each file is checked with the nearest tsconfig.json: the root one, or a HubSpot project component's own.
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // Numbers read the same in any template; `undefined`, objects and arrays in a message are the bugs worth catching.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `() => setState(x)` returning void is how callbacks are written throughout; a void used as a value still fails.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // Fastify handlers and hooks, and implementations of Promise-returning interfaces, are async by contract.
      '@typescript-eslint/require-await': 'off',
      // @hubspot/api-client types its request bodies as generated classes but serializes plain objects, and its
      // docs pass object literals; building class instances would add ceremony and no safety.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
    },
  },
  {
    files: ['backend/src/**'],
    ignores: ['backend/src/main.ts'],
    // The service logs through pino (structured, redacted); main.ts may print before a logger exists.
    rules: { 'no-console': 'error' },
  },
  {
    files: ['test/**'],
    rules: {
      // `fixture!` on a seeded user or record: were it missing, the next line throws and the test fails anyway.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['test/**/*.test.{ts,tsx}'],
    // Response bodies come from light-my-request's `json(): any` and vitest's asymmetric matchers return `any`:
    // the assertions themselves are the type check of what the backend answered.
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
