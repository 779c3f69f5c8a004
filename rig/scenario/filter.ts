// --only: which scenarios of a list run, by substring or /regular expression/. Pure.
import { UsageError } from '../core/errors.ts';

/** A substring of the scenario name, or a regular expression written /like this/i. */
export type ScenarioFilter = { readonly kind: 'substring'; readonly text: string } | { readonly kind: 'regex'; readonly regex: RegExp };

/** Parses --only: "/re/flags" is a regular expression, anything else a substring. */
export function parseFilter(pattern: string): ScenarioFilter {
  if (pattern === '') throw new UsageError('--only needs a non-empty PATTERN', { hint: 'see: npm run -s rig -- run --help' });
  const m = pattern.match(/^\/(.+)\/([a-z]*)$/);
  if (!m) return { kind: 'substring', text: pattern };
  try {
    return { kind: 'regex', regex: new RegExp(m[1], m[2]) };
  } catch (error) {
    throw new UsageError(`--only ${pattern} is not a valid regular expression`, { hint: 'write /REGEX/ or /REGEX/FLAGS, or a plain substring', cause: error });
  }
}

/** Whether a scenario name passes a --only filter (no filter: everything passes). */
export function matchesFilter(filter: ScenarioFilter | undefined, name: string): boolean {
  if (!filter) return true;
  if (filter.kind === 'substring') return name.includes(filter.text);
  filter.regex.lastIndex = 0;
  return filter.regex.test(name);
}

/** The filter as the user wrote it, for messages. */
export function filterText(filter: ScenarioFilter | undefined): string {
  return filter === undefined ? '' : filter.kind === 'regex' ? String(filter.regex) : filter.text;
}
