import { describe, expect, it } from 'vitest';
import { render, screen, waitFor } from '@testing-library/svelte';
import DiffView from './DiffView.svelte';
import { FakeBackend, rows } from '../test/fake';
import { MAX_HEIGHT, scrollFor, slice } from '../lib/window';

describe('DiffView', () => {
  it('renders only the visible rows of a 10,000-row diff and asks only for their page', async () => {
    const backend = new FakeBackend();
    backend.diff = rows(10_000);
    render(DiffView, { backend, request: 'a'.repeat(64), claimed: 'x', computed: 'x' });
    await screen.findByText('line 0');
    const rendered = document.querySelectorAll('#diff-rows .line');
    expect(rendered.length).toBeGreaterThan(10);
    expect(rendered.length).toBeLessThan(100);
    await waitFor(() => expect(backend.calls.filter((c) => c.startsWith('diff_rows'))).toEqual(['diff_rows:0:256']));
    expect(screen.getByText('digest matches the record')).toBeTruthy();
  });
});

describe('window arithmetic', () => {
  it('scales lists taller than WebKit can lay out and still reaches the last row', () => {
    const total = 3_000_000;
    const top = slice(total, 20, 0, 600);
    expect(top.start).toBe(0);
    expect(top.height).toBe(MAX_HEIGHT);
    const end = slice(total, 20, MAX_HEIGHT - 600, 600);
    expect(end.start + end.count).toBe(total);
    const middle = slice(total, 20, scrollFor(1_500_000, total, 20, 600), 600);
    expect(Math.abs(middle.start + 10 - 1_500_000)).toBeLessThan(2);
  });

  it('maps small lists one row per row height', () => {
    expect(slice(1000, 20, 400, 600, 0)).toEqual({ start: 20, count: 31, top: 400, height: 20_000 });
  });
});

describe('DiffView progress and cancel', () => {
  it('shows the stage and n of total while the diff is computed, and Cancel stops it', async () => {
    const backend = new FakeBackend();
    backend.slowDiff = true;
    const REQ = 'a'.repeat(64);
    render(DiffView, { backend, request: REQ, claimed: 'x', computed: 'x' });
    await waitFor(() => expect(document.getElementById('work-progress')).toBeTruthy());
    await waitFor(() => expect(backend.listeners.length).toBeGreaterThan(0));
    backend.emit({ event: 'progress', work: 'b'.repeat(64), stage: 'another diff', done: 1, total: 2 , unit: 'files' });
    backend.emit({ event: 'progress', work: REQ, stage: 'diffing files', done: 2500, total: 10000 , unit: 'files' });
    await waitFor(() => expect(document.getElementById('work-count')?.textContent).toBe('2,500 of 10,000 files'));
    expect(document.getElementById('work-progress')?.textContent).toContain('diffing files');
    expect(document.getElementById('work-progress')?.textContent).not.toContain('another diff');
    expect((document.querySelector('#work-progress .fill') as HTMLElement).style.width).toBe('25%');
    (document.getElementById('work-cancel') as HTMLButtonElement).click();
    await waitFor(() => expect(document.getElementById('work-cancelled')?.textContent).toContain('Cancelled: nothing was kept'));
    expect(backend.calls).toContain(`cancel_work:${REQ}`);
    expect(document.getElementById('work-progress')).toBeNull();
    // Computing again asks the backend again, and this time it finishes.
    (document.getElementById('work-again') as HTMLButtonElement).click();
    await waitFor(() => expect(backend.calls.filter((c) => c.startsWith('diff_summary:'))).toHaveLength(2));
    backend.finishDiff();
    await screen.findByText('line 0');
    expect(document.getElementById('work-cancelled')).toBeNull();
  });
});
