// Minimal typings for fuse-native 2.2 (the package ships none).
declare module 'fuse-native' {
  interface FuseOptions {
    force?: boolean
    mkdir?: boolean
    debug?: boolean
    allowOther?: boolean
    allowRoot?: boolean
    autoUnmount?: boolean
    defaultPermissions?: boolean
    fsname?: string
    subtype?: string
    kernelCache?: boolean
    autoCache?: boolean
    entryTimeout?: number
    attrTimeout?: number
    acAttrTimeout?: number
    maxRead?: number
    uid?: number
    gid?: number
    umask?: number
    /** ms per op before fuse-native answers ETIMEDOUT itself; false disables. */
    timeout?: number | false | Record<string, number | false>
  }
  class Fuse {
    constructor (mnt: string, ops: Record<string, Function>, opts?: FuseOptions)
    mnt: string
    mount (cb: (err: Error | null) => void): void
    unmount (cb: (err: Error | null) => void): void
    static unmount (mnt: string, cb: (err: Error | null) => void): void
    static isConfigured (cb: (err: Error | null, configured: boolean) => void): void
    static readonly ENOENT: number
    static readonly EIO: number
    static readonly EROFS: number
  }
  export default Fuse
}
