// The container images a Node of the lab runs: mcgw's image, built from the repository's own
// Dockerfile without a Docker engine, and the sandbox (pause) image containerd starts every Pod
// with. scripts/build-images.sh builds both (bases and pause cached, mcgw from the current work tree)
// and writes them as OCI archives with an images.json; this module runs it, reads that file into
// typed values and imports the archives into a Node's containerd.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from './binaries.ts';
import { runBuildScript } from './buildscript.ts';

export class ImageError extends Error {
  override name = 'ImageError';
}

export type ImageName = 'mcgw' | 'pause';

export interface BuiltImage {
  name: ImageName;
  /** The full reference, as a Node's containerd will know it: localhost/mcgw/mcgw:0.1.0. */
  ref: string;
  /** The image ID: the digest of its config, as `crictl images` shows it. */
  id: string;
  /** The OCI archive that holds it. */
  archive: string;
  /** Its layers unpacked, as they take space on a Node. */
  imageBytes: number;
  /** The archive file (layers gzip-compressed, as a registry would send them). */
  archiveBytes: number;
}

export interface BuiltImages {
  /** The directory of the archives and images.json. */
  dir: string;
  mcgw: BuiltImage;
  pause: BuiltImage;
  /** The local base images the Dockerfile was built on. */
  base: { ref: string; buildRef: string; suite: string; nodejs: string };
  /** The k8s.io/kubernetes module version pause.c came from. */
  kubernetes: string;
  storageDriver: 'overlay' | 'vfs';
}

const buildScript = join(repoRoot, 'scripts', 'build-images.sh');

let cached: Promise<BuiltImages> | undefined;

/**
 * The images, built by scripts/build-images.sh once per process: the first run on a machine makes
 * the Debian bases (a few minutes); later runs rebuild only what the work tree changed (seconds).
 */
export function findImages(): Promise<BuiltImages> {
  if (cached === undefined) {
    const build = runBuildScript(buildScript, repoRoot, (m) => new ImageError(m), 'images directory').then(
      async (dir) => {
        const file = join(dir, 'images.json');
        let text: string;
        try {
          text = await readFile(file, 'utf8');
        } catch (err) {
          throw new ImageError(
            `${buildScript} printed ${dir}, but ${file} cannot be read: ${(err as Error).message}`,
          );
        }
        return parseImagesJson(text, dir);
      },
    );
    // A failed build may be fixable (a package installed, the network back); let a later call retry.
    build.catch(() => {
      if (cached === build) cached = undefined;
    });
    cached = build;
  }
  return cached;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** images.json as written by scripts/build-images.sh; anything else is an ImageError naming the field. */
export function parseImagesJson(text: string, dir: string): BuiltImages {
  const bad = (what: string): never => {
    throw new ImageError(`${join(dir, 'images.json')}: ${what}`);
  };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return bad(`not JSON: ${(err as Error).message}`);
  }
  if (!isRecord(v)) return bad('not a JSON object');
  const str = (o: Record<string, unknown>, k: string, where: string): string => {
    const s = o[k];
    return typeof s === 'string' && s !== '' ? s : bad(`${where}.${k} is not a non-empty string`);
  };
  const bytes = (o: Record<string, unknown>, k: string, where: string): number => {
    const n = o[k];
    return typeof n === 'number' && Number.isSafeInteger(n) && n > 0
      ? n
      : bad(`${where}.${k} is not a positive integer`);
  };
  const images = new Map<ImageName, BuiltImage>();
  if (!Array.isArray(v.images)) return bad('images is not a list');
  v.images.forEach((e: unknown, i) => {
    const where = `images[${i}]`;
    if (!isRecord(e)) return bad(`${where} is not an object`);
    const name = str(e, 'name', where);
    if (name !== 'mcgw' && name !== 'pause') return bad(`${where}.name is ${name}, not mcgw or pause`);
    if (images.has(name)) return bad(`${name} is listed twice`);
    const id = str(e, 'id', where);
    if (!/^sha256:[0-9a-f]{64}$/.test(id)) bad(`${where}.id is not a sha256 digest: ${id}`);
    const ref = str(e, 'ref', where);
    try {
      imageBaseName(ref);
    } catch (err) {
      bad(`${where}.ref: ${(err as Error).message}`);
    }
    images.set(name, {
      name,
      ref,
      id,
      archive: str(e, 'archive', where),
      imageBytes: bytes(e, 'imageBytes', where),
      archiveBytes: bytes(e, 'archiveBytes', where),
    });
  });
  const mcgw = images.get('mcgw') ?? bad('no mcgw image');
  const pause = images.get('pause') ?? bad('no pause image');
  if (!isRecord(v.base)) return bad('base is not an object');
  const driver = str(v, 'storageDriver', '');
  if (driver !== 'overlay' && driver !== 'vfs') return bad(`storageDriver is ${driver}`);
  return {
    dir,
    mcgw,
    pause,
    base: {
      ref: str(v.base, 'ref', 'base'),
      buildRef: str(v.base, 'buildRef', 'base'),
      suite: str(v.base, 'suite', 'base'),
      nodejs: str(v.base, 'nodejs', 'base'),
    },
    kubernetes: str(v, 'kubernetes', ''),
    storageDriver: driver,
  };
}

/**
 * A reference without its tag: what `ctr images import --base-name` takes. Only references with a
 * registry host, a path and a tag are accepted (localhost/mcgw/pause:3.10.1), so the name the Node
 * gets is the one given, with no docker.io/library/ added.
 */
export function imageBaseName(ref: string): string {
  const m = /^([a-z0-9.-]+(?::[0-9]+)?\/[a-z0-9._/-]+):[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.exec(ref);
  if (!m?.[1]) throw new ImageError(`${ref} is not a reference of the form host/path:tag`);
  return m[1];
}

/** A containerd to import into: a Node's, or any other. */
export interface ContainerdTarget {
  /** The Node it belongs to, for error messages. */
  node: string;
  /** Its gRPC socket. */
  address: string;
  /** The containerd namespace; k8s.io, the one kubelet's CRI uses, unless told otherwise. */
  namespace?: string;
  /** The ctr binary; `ctr` on PATH by default. */
  ctr?: string;
}

function ctr(target: ContainerdTarget, args: string[], timeoutMs: number): Promise<string> {
  const full = ['--address', target.address, '-n', target.namespace ?? 'k8s.io', ...args];
  return new Promise((resolvePromise, reject) => {
    execFile(
      target.ctr ?? 'ctr',
      full,
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          const why =
            (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'ctr is not installed' : stderr.trim();
          reject(new Error(why || err.message));
        } else resolvePromise(stdout);
      },
    );
  });
}

/**
 * Imports one image's archive into a containerd and checks that it is there under its reference.
 * `--base-name` keeps the archive's own reference (`--index-name` would add a second one).
 */
export async function importImage(image: BuiltImage, target: ContainerdTarget): Promise<void> {
  const fail = (why: string) =>
    new ImageError(
      `importing ${image.ref} (${image.archive}) into the containerd of Node ${target.node} (${target.address}) failed: ${why}`,
    );
  try {
    await ctr(target, ['images', 'import', '--base-name', imageBaseName(image.ref), image.archive], 300_000);
  } catch (err) {
    throw fail((err as Error).message);
  }
  let listed: string;
  try {
    listed = await ctr(target, ['images', 'ls', '-q', `name==${image.ref}`], 30_000);
  } catch (err) {
    throw fail(`listing the images afterwards: ${(err as Error).message}`);
  }
  if (!listed.split('\n').includes(image.ref))
    throw fail(`ctr reported success, but lists no image ${image.ref}`);
}

/** Imports the images one after the other (containerd unpacks each; in parallel they would only compete). */
export async function importImages(images: readonly BuiltImage[], target: ContainerdTarget): Promise<void> {
  for (const image of images) await importImage(image, target);
}
