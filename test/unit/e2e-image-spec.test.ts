import test from 'ava'
import { fileURLToPath } from 'node:url'
import { PROJECT_IMAGE, imageRepo, parseDockerfileFinalStage, parseDistRemovals, readRepoDockerfile } from '../../scripts/e2e/images.js'

// The e2e cluster cannot run `docker build`: scripts/e2e/images.ts assembles the project image
// from PROJECT_IMAGE. This keeps it the image deploy/image/Dockerfile describes.
const repo = fileURLToPath(new URL('../../..', import.meta.url))
const dockerfile = readRepoDockerfile(repo)
const stage = parseDockerfileFinalStage(dockerfile)

test('the e2e project image copies the same files as the Dockerfile final stage', (t) => {
  t.true(stage.copies.length > 0, 'the Dockerfile parser found COPY --from=build lines')
  t.deepEqual([...PROJECT_IMAGE.copies].sort(), [...stage.copies].sort())
  t.deepEqual([...PROJECT_IMAGE.removedFromDist].sort(), parseDistRemovals(dockerfile).sort())
  t.regex(dockerfile, /npm prune --omit=dev/, 'the Dockerfile still prunes dev dependencies, as the e2e image does')
})

test('the e2e project image has the Dockerfile runtime: node major, Debian packages, entrypoint, user, env, workdir, CLI link', (t) => {
  t.is(Number(/^node:(\d+)\./.exec(stage.nodeImage)?.[1]), PROJECT_IMAGE.nodeMajor, `NODE_IMAGE ${stage.nodeImage}`)
  t.deepEqual([...PROJECT_IMAGE.packages].sort(), [...stage.packages].sort())
  t.deepEqual(stage.entrypoint, [...PROJECT_IMAGE.entrypoint])
  t.deepEqual(stage.cmd, [...PROJECT_IMAGE.cmd])
  t.is(stage.user, PROJECT_IMAGE.user)
  t.deepEqual(stage.env, { ...PROJECT_IMAGE.env })
  t.is(stage.workdir, PROJECT_IMAGE.workdir)
  t.deepEqual(stage.links, [`${PROJECT_IMAGE.cliLink.from} -> ${PROJECT_IMAGE.cliLink.to}`])
})

test('the Dockerfile parser sees a drift: an added COPY and a changed USER', (t) => {
  const drifted = parseDockerfileFinalStage(dockerfile.replace(/^USER .*$/m, 'USER 0:0').replace(/^(COPY --from=build \/src\/dist .*)$/m, '$1\nCOPY --from=build /src/bench ./bench'))
  t.notDeepEqual([...PROJECT_IMAGE.copies].sort(), [...drifted.copies].sort())
  t.not(drifted.user, PROJECT_IMAGE.user)
})

test('imageRepo drops the tag, never a registry port or a path segment', (t) => {
  t.is(imageRepo('localhost/ipfs-csi-e2e/ipfs-csi:0.1.0'), 'localhost/ipfs-csi-e2e/ipfs-csi')
  t.is(imageRepo('localhost:5000/kubo:v0.43.0'), 'localhost:5000/kubo')
  t.is(imageRepo('localhost:5000/kubo'), 'localhost:5000/kubo')
  t.is(imageRepo('busybox'), 'busybox')
})
