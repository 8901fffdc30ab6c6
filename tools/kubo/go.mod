// Pins Kubo for tests and the demo. A tool module, because Kubo's own go.mod has
// exclude directives that `go install module@version` refuses.
module ipfs-csi/tools/kubo

go 1.25

require github.com/ipfs/kubo v0.43.0

tool github.com/ipfs/kubo/cmd/ipfs
