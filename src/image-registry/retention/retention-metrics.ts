// Metrics of retention under the disk budget: runs by trigger, images and bytes evicted, and the budget in force.
import { Counter, Gauge } from '../../metrics/metrics.js';

const runs = new Counter({
  name: 'berth_site_retention_runs_total',
  help: 'Runs of eviction under the disk budget, by trigger: pull-through (after it stored something), timer, configuration.',
  labelNames: ['trigger'] as const,
});
const evictedImages = new Counter({ name: 'berth_site_retention_evicted_images_total', help: 'Pull-through images evicted under the disk budget.' });
const evictedBytes = new Counter({ name: 'berth_site_retention_evicted_bytes_total', help: 'Bytes freed by eviction under the disk budget.' });
const budget = new Gauge({ name: 'berth_site_retention_budget_bytes', help: 'The disk budget of the site registry in force here (0: none).' });

export const retentionMetrics = {
  ran(trigger: string, images: number, bytes: number, budgetBytes: number | undefined): void {
    runs.inc({ trigger });
    evictedImages.inc(images);
    evictedBytes.inc(bytes);
    budget.set(budgetBytes ?? 0);
  },
};
