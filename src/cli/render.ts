// Answers as the person asked to see them: YAML (the default, as supctl shows them) or JSON.
import yaml from 'js-yaml';

export type OutputFormat = 'yaml' | 'json';

export function render(value: unknown, format: OutputFormat): string {
  if (value === undefined) return '';
  return format === 'json' ? `${JSON.stringify(value, null, 2)}\n` : yaml.dump(value, { lineWidth: -1, noRefs: true });
}
