// Per-control-plane PKI for test clusters, made with the openssl CLI (EC P-256 keys: fast to make).
import { execFile } from 'node:child_process';
import { generateKeyPair } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const generateKeyPairAsync = promisify(generateKeyPair);

/** The first address of the service CIDR the test apiservers use; it serves the `kubernetes` Service. */
export const SERVICE_IP = '198.19.0.1';
export const ADMIN_USER = 'mcgw-admin';

/** Paths of the PEM files written by {@link generateCerts}. */
export interface ControlPlaneCerts {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountPublicKey: string;
  serviceAccountPrivateKey: string;
}

/** A client certificate/key pair for one identity, see {@link issueClientCert}. */
export interface ClientCert {
  cert: string;
  key: string;
}

export class CertError extends Error {
  override name = 'CertError';
}

// A self-contained config so the host's openssl.cnf cannot add or change extensions.
function opensslConfig(serverSANs: string): string {
  return `[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = ${serverSANs}
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;
}

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileAsync('openssl', args, { timeout: 30_000 });
  } catch (err) {
    const e = err as Error & { stderr?: string; code?: string };
    const hint =
      e.code === 'ENOENT' ? 'the openssl CLI is not on PATH' : (e.stderr ?? '').trim() || e.message;
    throw new CertError(`openssl ${args[0]} ${args[1] ?? ''} failed: ${hint}`);
  }
}

// One `req -x509` call makes the key and the certificate; with -CA it signs with that CA (OpenSSL 3).
function ecCertArgs(
  config: string,
  section: string,
  subject: string,
  key: string,
  cert: string,
  days: number,
) {
  return [
    'req',
    '-x509',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-noenc',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    String(days),
    '-subj',
    subject,
    '-config',
    config,
    '-extensions',
    section,
  ];
}

/**
 * Writes a fresh CA, an apiserver serving certificate (SANs 127.0.0.1, localhost, the service IP and
 * the in-cluster `kubernetes` names, plus `extraIPs`: the addresses kubelet Nodes and pods reach it at),
 * an admin client certificate (CN=mcgw-admin, O=system:masters) and an RSA service-account signing key
 * pair into `dir`.
 */
export async function generateCerts(
  dir: string,
  name: string,
  opts: { serviceIP?: string; extraIPs?: readonly string[] } = {},
): Promise<ControlPlaneCerts> {
  const p = (file: string) => join(dir, file);
  const certs: ControlPlaneCerts = {
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    serverCert: p('apiserver.crt'),
    serverKey: p('apiserver.key'),
    adminCert: p('admin.crt'),
    adminKey: p('admin.key'),
    serviceAccountPublicKey: p('sa.pub'),
    serviceAccountPrivateKey: p('sa.key'),
  };
  const sans = [
    'IP:127.0.0.1',
    'DNS:localhost',
    ...new Set([`IP:${opts.serviceIP ?? SERVICE_IP}`, ...(opts.extraIPs ?? []).map((ip) => `IP:${ip}`)]),
    'DNS:kubernetes',
    'DNS:kubernetes.default',
    'DNS:kubernetes.default.svc',
  ].join(', ');
  const config = p('openssl.cnf');
  await writeFile(config, opensslConfig(sans), { mode: 0o600 });

  // The RSA key is the slow part (tens of ms); make it while openssl works.
  const saKeys = generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  }).then(async ({ publicKey, privateKey }) => {
    await writeFile(certs.serviceAccountPublicKey, publicKey, { mode: 0o600 });
    await writeFile(certs.serviceAccountPrivateKey, privateKey, { mode: 0o600 });
  });

  // The subject CN is purely informational; keep it free of characters openssl's -subj would parse.
  const label = name.replace(/[^A-Za-z0-9._-]/g, '_');
  const signedByCA = ['-CA', certs.caCert, '-CAkey', certs.caKey];
  try {
    await openssl(ecCertArgs(config, 'ca', `/CN=mcgw-ca-${label}`, certs.caKey, certs.caCert, 3650));
    await Promise.all([
      openssl([
        ...ecCertArgs(config, 'server', '/CN=kube-apiserver', certs.serverKey, certs.serverCert, 365),
        ...signedByCA,
      ]),
      openssl([
        ...ecCertArgs(
          config,
          'client',
          `/CN=${ADMIN_USER}/O=system:masters`,
          certs.adminKey,
          certs.adminCert,
          365,
        ),
        ...signedByCA,
      ]),
    ]);
  } finally {
    // Never leave the RSA generation unobserved, even when openssl failed.
    await saKeys;
  }
  return certs;
}

/**
 * Issues a client certificate signed by the control plane's CA, for the identity `cn` in the groups
 * `orgs` (what the apiserver's x509 authenticator reads: CN is the user, each O a group). The files
 * are `<dir>/<file>.crt` and `.key`. Kubernetes' own components get theirs this way, e.g.
 * CN=system:kube-scheduler, or CN=system:node:NAME with O=system:nodes for a kubelet.
 */
export async function issueClientCert(
  dir: string,
  certs: ControlPlaneCerts,
  file: string,
  cn: string,
  orgs: readonly string[] = [],
): Promise<ClientCert> {
  const out = { cert: join(dir, `${file}.crt`), key: join(dir, `${file}.key`) };
  const subject = `/CN=${cn}${orgs.map((o) => `/O=${o}`).join('')}`;
  if (/[^A-Za-z0-9:._/=-]/.test(subject)) throw new CertError(`unexpected characters in subject ${subject}`);
  await openssl([
    ...ecCertArgs(join(dirname(certs.caCert), 'openssl.cnf'), 'client', subject, out.key, out.cert, 365),
    '-CA',
    certs.caCert,
    '-CAkey',
    certs.caKey,
  ]);
  return out;
}
