/** Kubernetes metadata read from the kubelet's log paths (no API server needed). */
export interface KubernetesMeta {
  namespace: string;
  podName: string;
  podUid: string | undefined;
  containerName: string;
  containerId: string | undefined;
}

// /var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log (also rotated: <n>.log.20240101-120000[.gz])
const PODS = /\/pods\/([^/_]+)_([^/_]+)_([^/_]+)\/([^/]+)\/\d+\.log(?:\.[^/]*)?$/;
// /var/log/containers/<pod>_<namespace>_<container>-<id>.log (the container name may hold dashes)
const CONTAINERS = /\/containers\/([^/_]+)_([^/_]+)_([^/]+)-([0-9a-f]{6,})\.log$/;

/** Matched once per file. Namespaces and pod names cannot contain '_' or '/', so the split is exact. */
export function kubernetesFromPath(path: string): KubernetesMeta | undefined {
  const p = PODS.exec(path);
  if (p !== null) {
    return { namespace: p[1], podName: p[2], podUid: p[3], containerName: p[4], containerId: undefined };
  }
  const c = CONTAINERS.exec(path);
  if (c !== null) {
    return { namespace: c[2], podName: c[1], podUid: undefined, containerName: c[3], containerId: c[4] };
  }
  return undefined;
}
