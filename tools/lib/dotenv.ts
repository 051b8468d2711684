// `.env` files as python-dotenv reads them, for the keys the client uses: KEY=VALUE lines, `export`
// prefixes, # comments, single or double quotes. Values already in the environment win, as with
// python-dotenv's load_dotenv(), so a one-off `AUTH_KEY=x npm run client` overrides the file.
import { readFileSync } from 'node:fs';

export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    let value = match[2]!;
    const quoted = /^(['"])(.*)\1$/.exec(value);
    if (quoted) value = quoted[1] === '"' ? quoted[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"') : quoted[2]!;
    else value = value.replace(/\s+#.*$/, '');
    out[match[1]!] = value;
  }
  return out;
}

export interface Setting {
  value: string;
  /** Where it came from, for messages: 'environment' or the file's name. */
  source: string;
}

/** Reads `file` if it exists (undefined otherwise) and merges it under `env`. */
export function loadSettings(file: string, env: NodeJS.ProcessEnv = process.env): { found: boolean; get(name: string): Setting | undefined } {
  let fromFile: Record<string, string> = {};
  let found = false;
  try {
    fromFile = parseDotenv(readFileSync(file, 'utf8'));
    found = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return {
    found,
    get(name) {
      const own = env[name];
      if (own) return { value: own, source: 'environment' };
      const value = fromFile[name];
      return value ? { value, source: file } : undefined;
    },
  };
}
