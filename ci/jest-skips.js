// jest loads a reporter from a module whose export is the class
module.exports = require('./skips').JestReporter;
