// Reads the one image in an OCI archive (an OCI image layout in a tar file, as
// `buildah push <image> oci-archive:<file>:<ref>` writes it): its reference, manifest and config,
// without unpacking the layers. Used to check what a Node will be given before it imports it.
import { execFile } from 'node:child_process';

export class OciArchiveError extends Error {
  override name = 'OciArchiveError';
}

export interface OciLayer {
  digest: string;
  mediaType: string;
  /** Bytes in the archive (compressed when mediaType ends in +gzip). */
  size: number;
}

/** The parts of an image's config a runtime acts on. */
export interface OciImageConfig {
  os: string;
  architecture: string;
  user: string;
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  labels: Record<string, string>;
}

export interface OciArchiveImage {
  /** org.opencontainers.image.ref.name of the index entry, if any. */
  ref: string | undefined;
  manifestDigest: string;
  configDigest: string;
  layers: OciLayer[];
  config: OciImageConfig;
}

/** One member of the tar file, as text. */
function member(archive: string, name: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile('tar', ['-xOf', archive, name], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err)
        reject(new OciArchiveError(`${archive}: cannot read ${name}: ${stderr.trim() || err.message}`));
      else resolvePromise(stdout);
    });
  });
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function parse(archive: string, what: string, text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new OciArchiveError(`${archive}: ${what} is not JSON: ${(err as Error).message}`);
  }
  if (!isRecord(v)) throw new OciArchiveError(`${archive}: ${what} is not a JSON object`);
  return v;
}

function descriptor(
  archive: string,
  what: string,
  v: unknown,
): OciLayer & { annotations: Record<string, unknown> } {
  if (
    !isRecord(v) ||
    typeof v.digest !== 'string' ||
    !/^sha256:[0-9a-f]{64}$/.test(v.digest) ||
    typeof v.mediaType !== 'string' ||
    typeof v.size !== 'number'
  ) {
    throw new OciArchiveError(`${archive}: ${what} is not a sha256 descriptor: ${JSON.stringify(v)}`);
  }
  return {
    digest: v.digest,
    mediaType: v.mediaType,
    size: v.size,
    annotations: isRecord(v.annotations) ? v.annotations : {},
  };
}

const blobPath = (digest: string): string => `blobs/${digest.replace(':', '/')}`;

function strings(archive: string, what: string, v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string'))
    throw new OciArchiveError(`${archive}: ${what} is not a list of strings`);
  return v;
}

/** The image of an archive that holds exactly one. */
export async function readOciArchive(archive: string): Promise<OciArchiveImage> {
  const index = parse(archive, 'index.json', await member(archive, 'index.json'));
  const entries = Array.isArray(index.manifests) ? index.manifests : [];
  if (entries.length !== 1)
    throw new OciArchiveError(`${archive}: index.json lists ${entries.length} manifests, not 1`);
  const entry = descriptor(archive, 'the index entry', entries[0]);
  const refName = entry.annotations['org.opencontainers.image.ref.name'];

  const manifest = parse(archive, 'the manifest', await member(archive, blobPath(entry.digest)));
  const configDesc = descriptor(archive, "the manifest's config", manifest.config);
  if (!Array.isArray(manifest.layers)) throw new OciArchiveError(`${archive}: the manifest has no layers`);
  const layers = manifest.layers.map((l, i) => {
    const { digest, mediaType, size } = descriptor(archive, `layer ${i}`, l);
    return { digest, mediaType, size };
  });

  const raw = parse(archive, 'the image config', await member(archive, blobPath(configDesc.digest)));
  const c = isRecord(raw.config) ? raw.config : {};
  const labels: Record<string, string> = {};
  if (isRecord(c.Labels))
    for (const [k, v] of Object.entries(c.Labels)) if (typeof v === 'string') labels[k] = v;
  return {
    ref: typeof refName === 'string' ? refName : undefined,
    manifestDigest: entry.digest,
    configDigest: configDesc.digest,
    layers,
    config: {
      os: typeof raw.os === 'string' ? raw.os : '',
      architecture: typeof raw.architecture === 'string' ? raw.architecture : '',
      user: typeof c.User === 'string' ? c.User : '',
      entrypoint: strings(archive, 'Entrypoint', c.Entrypoint),
      cmd: strings(archive, 'Cmd', c.Cmd),
      env: strings(archive, 'Env', c.Env),
      workingDir: typeof c.WorkingDir === 'string' ? c.WorkingDir : '',
      labels,
    },
  };
}
