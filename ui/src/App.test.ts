import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import App from './App.svelte';
import { FakeBackend } from './test/fake';

describe('App top bar: the sync', () => {
  it('shows packages done of all while syncing, and Cancel stops the sync', async () => {
    const backend = new FakeBackend();
    render(App, { backend });
    await waitFor(() => expect(backend.listeners.length).toBeGreaterThan(0));
    expect(document.getElementById('sync-cancel')).toBeNull();
    backend.emit({ event: 'sync-started' });
    backend.emit({ event: 'progress', work: 'sync', stage: 'syncing packages', done: 1, total: 3 , unit: 'packages' });
    backend.emit({ event: 'progress', work: 'a'.repeat(64), stage: 'diffing files', done: 7, total: 9 , unit: 'files' });
    await waitFor(() => expect(document.getElementById('sync-now')?.textContent?.trim()).toBe('Syncing 1 of 3…'));
    await fireEvent.click(screen.getByText('Cancel'));
    expect(backend.calls).toContain('cancel_work:sync');
    backend.emit({ event: 'sync-ended', error: 'cancelled: what finished before the cancel is kept; sync again to finish' });
    await waitFor(() => expect(document.getElementById('sync-error')?.textContent).toBe('Sync cancelled'));
    expect(document.getElementById('sync-cancel')).toBeNull();
    expect(document.getElementById('sync-now')?.textContent?.trim()).toBe('Sync now');
  });

  it('says a failed sync failed', async () => {
    const backend = new FakeBackend();
    render(App, { backend });
    await waitFor(() => expect(backend.listeners.length).toBeGreaterThan(0));
    backend.emit({ event: 'sync-started' });
    backend.emit({ event: 'sync-ended', error: 'git: fetch: could not resolve host' });
    await waitFor(() => expect(document.getElementById('sync-error')?.textContent).toBe('Sync failed'));
  });
});
