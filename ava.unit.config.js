// Unit tests: pure logic, no daemons; run in parallel.
export default {
  files: ['dist/test/unit/**/*.test.js'],
  timeout: '60s',
  workerThreads: false
}
