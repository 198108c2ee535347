// Builds the API clients mcgw uses from one kubeconfig.
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  ApiextensionsV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import { pooled } from './keepalive.ts';

export interface Clients {
  kc: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  coordination: CoordinationV1Api;
  apiext: ApiextensionsV1Api;
  rbac: RbacAuthorizationV1Api;
}

/** Loads a kubeconfig from a path, or from $KUBECONFIG / ~/.kube/config / in-cluster when none is given. */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) {
    throw new Error(
      path
        ? `kubeconfig ${path} names no current cluster`
        : 'no kubeconfig found: pass --kubeconfig or set KUBECONFIG',
    );
  }
  return pooled(kc);
}

export function makeClients(kc: KubeConfig): Clients {
  pooled(kc);
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    coordination: kc.makeApiClient(CoordinationV1Api),
    apiext: kc.makeApiClient(ApiextensionsV1Api),
    rbac: kc.makeApiClient(RbacAuthorizationV1Api),
  };
}
