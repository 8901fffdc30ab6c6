// What the controller advertises. Publish/Unpublish are not needed (the node mounts from Kubo).
export const CONTROLLER_CAPABILITIES = [
  'CREATE_DELETE_VOLUME',
  'LIST_VOLUMES',
  'GET_CAPACITY',
  'CREATE_DELETE_SNAPSHOT',
  'LIST_SNAPSHOTS',
  'CLONE_VOLUME',
  'EXPAND_VOLUME',
  'GET_SNAPSHOT',
  'SINGLE_NODE_MULTI_WRITER'
] as const
