// A full garbage collection now and then while streaming. Each `cat` run allocates buffers that
// become garbage soon after, and V8 collects external memory lazily: a 1 GiB stream grew the
// FUSE server by hundreds of MiB of dead buffers. A collection every STREAM_GC_BYTES of streamed
// data (a few ms each) keeps the RSS flat (figure 7 of make bench). gc is exposed at run time,
// so the FUSE server needs no --expose-gc flag on its command line.
import v8 from 'node:v8'
import vm from 'node:vm'

const STREAM_GC_BYTES = 128 * 1024 * 1024

let collectGarbage: (() => void) | undefined
function gcNudge (): void {
  if (collectGarbage === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc')
      collectGarbage = vm.runInNewContext('gc') as () => void
    } catch {
      collectGarbage = () => {}
    }
  }
  collectGarbage()
}

export class StreamGc {
  private bytes = 0

  /** Counts bytes asked for in a stream; past the threshold a collection runs on the next turn. */
  streamed (n: number): void {
    this.bytes += n
    if (this.bytes >= STREAM_GC_BYTES) {
      this.bytes = 0
      setImmediate(gcNudge)
    }
  }
}
