// Symlinks are never allowed to lead outside the mount. Policy ("present them safely"): a
// symlink is served with its target as stored when that target is already safe; otherwise it is
// rewritten with chroot semantics — an absolute target is taken relative to the mount root and a
// `..` at the mount root stays at the root — so `ls -l`, `cp -r` and `tar` keep working and the
// kernel can only ever land inside the mount. A target holding NUL cannot exist on Linux: such
// an entry is treated as absent (ENOENT), like an invalid name.
//
// "Safe" is stricter than "lexically inside": a target is served unchanged only when it is
// relative, starts with at most `depth` `..` segments (climbing real directories of the mount),
// and then has no `.`, `..` or empty segments. The kernel resolves `a/..` by following `a`, which
// may itself be a symlink to elsewhere in the mount, so a `..` after a name could climb out of the
// mount root even when the text looks harmless; the canonical form rules that out, and every
// symlink it passes through is itself served in this form.

/**
 * The target to present for a symlink stored in the directory at `dirSegs` (path segments from
 * the mount root), or undefined when the entry cannot be served.
 */
export function safeSymlinkTarget (target: string, dirSegs: readonly string[]): string | undefined {
  if (target.includes('\0')) return undefined
  if (isCanonical(target, dirSegs.length)) return target
  const stack: string[] = target.startsWith('/') ? [] : [...dirSegs]
  for (const seg of target.split('/')) {
    if (seg === '' || seg === '.') continue
    if (seg === '..') stack.pop() // at the root, `..` stays at the root
    else stack.push(seg)
  }
  let common = 0
  while (common < dirSegs.length && common < stack.length && dirSegs[common] === stack[common]) common++
  const parts = [...Array<string>(dirSegs.length - common).fill('..'), ...stack.slice(common)]
  return parts.length === 0 ? '.' : parts.join('/')
}

/** True when the kernel, starting in a directory `depth` levels below the root, stays inside. */
export function isCanonical (target: string, depth: number): boolean {
  if (target === '' || target.startsWith('/')) return false
  const segs = target.split('/')
  let i = 0
  while (i < segs.length && segs[i] === '..') i++
  if (i > depth) return false
  for (; i < segs.length; i++) {
    const s = segs[i] as string
    if (s === '' || s === '.' || s === '..') return false
  }
  return true
}
