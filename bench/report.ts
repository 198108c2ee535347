// Writes one `## <Section>` of docs/BENCHMARKS.md, leaving every other section as it is. Several
// benchmarks share that file (each owns its own section), so a section is found by its exact title,
// replaced in place or appended, and the file is swapped in atomically; if someone else changed the
// file while we were composing, we start over from their version instead of overwriting it.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** docs/BENCHMARKS.md of this repository. */
export const BENCHMARKS_MD = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'BENCHMARKS.md');

const PREAMBLE =
  '# Benchmarks\n\nMeasured figures, one section per benchmark. Each section is rewritten by the command it names; edit the benchmark, not the numbers.\n';

const FENCE = /^\s{0,3}(`{3,}|~{3,})/;

interface Line {
  text: string;
  /** An ATX heading of level 1 or 2 outside a code fence: the only lines that end a section. */
  heading?: { level: number; title: string };
}

function scan(text: string): Line[] {
  const out: Line[] = [];
  let fence: string | undefined;
  for (const raw of text.split('\n')) {
    const text = raw.replace(/\r$/, '');
    const f = FENCE.exec(text);
    if (f) {
      const mark = f[1]!;
      if (fence === undefined) fence = mark;
      else if (mark[0] === fence[0] && mark.length >= fence.length) fence = undefined;
      out.push({ text });
      continue;
    }
    const h = fence === undefined ? /^(#{1,2})[ \t]+(.*?)[ \t#]*$/.exec(text) : null;
    out.push(h ? { text, heading: { level: h[1]!.length, title: h[2]!.trim() } } : { text });
  }
  return out;
}

/**
 * The document with section `title` set to `body`: the lines from `## title` up to the next level-1
 * or level-2 heading (or the end) are replaced; without such a section it is appended at the end.
 * `body` must not contain a heading of level 1 or 2 itself (use ### inside a section).
 */
export function replaceSection(doc: string, title: string, body: string): string {
  const wanted = title.trim();
  if (wanted === '' || wanted.includes('\n')) throw new Error(`bad section title ${JSON.stringify(title)}`);
  const bodyLines = scan(body.trim());
  const stray = bodyLines.find((l) => l.heading);
  if (stray) throw new Error(`section body must not contain the heading ${JSON.stringify(stray.text)}`);
  const section = [`## ${wanted}`, '', ...bodyLines.map((l) => l.text), ''];

  const lines = scan(doc.trim() === '' ? PREAMBLE : doc);
  const start = lines.findIndex((l) => l.heading?.level === 2 && l.heading.title === wanted);
  let out: string[];
  if (start === -1) {
    const kept = lines.map((l) => l.text);
    while (kept.length > 0 && kept[kept.length - 1]!.trim() === '') kept.pop();
    out = [...kept, '', ...section];
  } else {
    let end = start + 1;
    while (end < lines.length && !lines[end]!.heading) end++;
    const after = lines.slice(end).map((l) => l.text);
    out = [...lines.slice(0, start).map((l) => l.text), ...section, ...after];
  }
  while (out.length > 0 && out[out.length - 1]!.trim() === '') out.pop();
  return out.join('\n') + '\n';
}

async function readOrEmpty(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/** Replaces or appends section `title` of the Markdown file at `path` (default docs/BENCHMARKS.md). */
export async function writeSection(title: string, body: string, path = BENCHMARKS_MD): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  for (let attempt = 1; ; attempt++) {
    const before = await readOrEmpty(path);
    const next = replaceSection(before, title, body);
    const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
    await writeFile(tmp, next, 'utf8');
    try {
      // Narrows the window in which a concurrent writer's section could be lost to the rename itself.
      if ((await readOrEmpty(path)) !== before && attempt < 5) continue;
      await rename(tmp, path);
      return;
    } finally {
      await rm(tmp, { force: true });
    }
  }
}
