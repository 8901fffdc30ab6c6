// Integration tests start real Kubo daemons and real FUSE mounts: one file at a time
// keeps the 2-core CI machine from timing out under contention.
export default {
  files: ['dist/test/integration/**/*.test.js'],
  timeout: '5m',
  serial: true,
  concurrency: 1,
  workerThreads: false,
  verbose: true
}
