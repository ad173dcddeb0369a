// At the control tower: the last report of each site on its desired images (POST /v1/state/system/site-report).
// Kept in memory, like the sites' contacts: writing it to the store would be a change for every site to read, and
// each site reports again at its first contact after a tower restart (the feed answers `report-wanted`).
import type { SelectedEntry } from './site-image-reconciler.js';

export interface SiteReport {
  'site-images': SelectedEntry[];
}

export interface ReportRecord {
  at: Date;
  report: SiteReport;
}

/** A site without a report is told at once at most this often (a site whose reports fail must not spin the feed). */
const ASK_AT_ONCE_EVERY_MS = 10_000;

export class SiteReports {
  private readonly records = new Map<string, ReportRecord>();
  private readonly asked = new Map<string, number>();

  /** Whether to answer `site`'s feed call at once to ask for its report (rather than at the end of its long-poll). */
  askNow(site: string): boolean {
    if (this.records.has(site)) return false;
    const last = this.asked.get(site);
    if (last !== undefined && Date.now() - last < ASK_AT_ONCE_EVERY_MS) return false;
    this.asked.set(site, Date.now());
    return true;
  }

  set(site: string, report: SiteReport): void {
    this.records.set(site, { at: new Date(), report });
    this.asked.delete(site);
  }

  get(site: string): ReportRecord | undefined {
    return this.records.get(site);
  }

  has(site: string): boolean {
    return this.records.has(site);
  }

  /** Forgets sites that are no longer configured. */
  retain(names: ReadonlySet<string>): void {
    for (const name of this.records.keys()) if (!names.has(name)) this.records.delete(name);
    for (const name of this.asked.keys()) if (!names.has(name)) this.asked.delete(name);
  }
}
