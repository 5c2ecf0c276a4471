import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/svelte';
import History from './History.svelte';
import { FakeBackend } from '../test/fake';

describe('History', () => {
  it('shows the chain status and filters entries by the search', async () => {
    const backend = new FakeBackend();
    render(History, { backend, version: 0 });
    await screen.findByText(/Audit log intact: 2 entries/);
    expect(screen.getByText('npm:evil')).toBeTruthy();
    await fireEvent.input(document.getElementById('history-search')!, { target: { value: 'pad' } });
    expect(screen.queryByText('npm:evil')).toBeNull();
    expect(screen.getByText('npm:pad')).toBeTruthy();
  });

  it('says so loudly when the hash chain is broken', async () => {
    const backend = new FakeBackend();
    const real = backend.history.bind(backend);
    backend.history = async () => ({ ...(await real()), broken: 'entry 2 does not follow entry 1' });
    render(History, { backend, version: 0 });
    const status = await screen.findByText(/hash chain is broken: entry 2 does not follow entry 1/);
    expect(status.classList.contains('error')).toBe(true);
  });
});
