const jestJupyterLab = require('@jupyterlab/testutils/lib/jest-config');

// Packages published as ES modules, which jest (CommonJS) must transpile.
// Missing one shows up as "SyntaxError: Unexpected token 'export'".
const esModules = [
  '@codemirror',
  '@jupyter/react-components',
  '@jupyter/web-components',
  '@jupyter/ydoc',
  '@jupyterlab/',
  '@lezer',
  '@marijn',
  '@microsoft',
  'color',
  'exenv-es6',
  'lib0',
  'marked',
  'nanoid',
  'vscode-ws-jsonrpc',
  'y-protocols',
  'y-websocket',
  'yaml',
  'yjs'
].join('|');

const baseConfig = jestJupyterLab(__dirname);

module.exports = {
  ...baseConfig,
  automock: false,
  // Only the sources: the venv and the built labextension hold package.json
  // files whose names collide in jest's module map.
  roots: ['<rootDir>/src'],
  collectCoverageFrom: [
    'src/**/*.{ts,tsx}',
    '!src/**/*.d.ts',
    '!src/**/__tests__/**'
  ],
  coverageReporters: ['lcov', 'text'],
  // No junit/GitHub reporters: plain console output locally and in `make test`;
  // in CI a skipped test fails the run (ci/skips.js).
  reporters: ['default', '<rootDir>/ci/jest-skips.js'],
  testRegex: 'src/.*/.*\\.spec\\.tsx?$',
  transform: {
    ...baseConfig.transform,
    // The base config reads tsconfig.test.json; this project has one tsconfig.
    '^.+\\.tsx?$': ['ts-jest/legacy', { tsconfig: './tsconfig.json' }]
  },
  transformIgnorePatterns: [`/node_modules/(?!${esModules}).+`]
};
