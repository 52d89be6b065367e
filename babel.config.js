// Transpiles the ES modules JupyterLab packages ship, for jest (see jest.config.js).
module.exports = require('@jupyterlab/testutils/lib/babel.config');
