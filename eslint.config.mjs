// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';

// Components talk to each other only through their index.ts (STYLE §1); a deep import is a design smell, not a style nit.
const components =
  'canary|cli|config|connections|console|consensus|edges|health|ingest|layer-manager|live-state|membership|metrics|node|operations|protocol|rollouts|runtime|shared|storage|supervisor';
/** The domain core and what it stands on: they know nothing of the wire, the channels or the edges (docs/architecture.md). */
const domain = [
  'canary',
  'config',
  'consensus',
  'health',
  'ingest',
  'layer-manager',
  'live-state',
  'membership',
  'metrics',
  'rollouts',
  'operations',
  'runtime',
  'shared',
  'storage',
];
const componentImport = {
  regex: `^(\\.\\./)+(${components})/(?!index\\.js$).+`,
  message: 'Import another component through its index.js only.',
};

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.triad/', 'coverage/', 'bench/results/', 'bench/.scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    // Resolves `./x.js` to the `./x.ts` beside it, so import-x/no-cycle follows TypeScript's ESM imports.
    settings: {
      ...importX.flatConfigs.typescript.settings,
      'import-x/resolver': { typescript: { project: './tsconfig.json' } },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      'import-x/no-cycle': 'error',
      'no-restricted-imports': ['error', { patterns: [componentImport] }],
    },
  },
  {
    files: domain.map((d) => `src/${d}/**/*.ts`),
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            componentImport,
            {
              regex: '^(\\.\\./)+(protocol|connections|edges|node|cli)/',
              message: 'The domain core takes and returns domain types: wire, channels and edges stay outside it.',
            },
          ],
        },
      ],
    },
  },
  {
    // shared/errors.ts may map each error code to its gRPC status: the one table (STYLE §2) the edges read.
    files: domain.filter((d) => d !== 'shared').map((d) => `src/${d}/**/*.ts`),
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            componentImport,
            {
              regex: '^(\\.\\./)+(protocol|connections|edges|node|cli)/',
              message: 'The domain core takes and returns domain types: wire, channels and edges stay outside it.',
            },
            { regex: '^@grpc/', message: 'gRPC belongs to protocol/, connections/ and edges/.' },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'vitest.config.ts'],
    rules: {
      // Tests may reach into a component's internals to exercise them directly.
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: globals.node },
  },
  {
    // The browser console renders the JSON of its own node's /console/api: its shapes are pinned by the browser tests
    // (test/integration/console), not redeclared here, so reading that JSON is allowed to be untyped.
    files: ['console/**/*.ts'],
    languageOptions: { globals: globals.browser },
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
