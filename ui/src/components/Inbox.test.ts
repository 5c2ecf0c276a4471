import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import Inbox from './Inbox.svelte';
import { FakeBackend, item } from '../test/fake';

describe('Inbox', () => {
  it('shows each request with its numbers and verdict, failing ones with their first problem', async () => {
    const backend = new FakeBackend();
    backend.items = [
      item(),
      item({ request: 'f'.repeat(64), verdict: 'failing', problems: ['diff digest: mismatch', 'builders: 0 of 2'], builders_agreeing: 0 }),
    ];
    render(Inbox, { backend, version: 0, onOpen: () => {} });
    await screen.findByText('ready to sign');
    expect(screen.getByText('failing check')).toBeTruthy();
    expect(document.querySelector('.problem')?.textContent).toBe('diff digest: mismatch (and 1 more)');
    expect(screen.getAllByText('1 of 2')).toHaveLength(2);
    expect(screen.getByText('0 of 2').closest('.num')?.classList.contains('short')).toBe(true);
    expect(document.getElementById('needs-me-count')?.textContent).toContain('2');
    // Who signed, by key id (8 digits), and whether one of them is mine.
    expect(document.querySelector('.signers')?.textContent).toBe('signed by dddddddd…');
  });

  it('says when one of the signatures is mine', async () => {
    const backend = new FakeBackend();
    backend.items = [item({ signed_by: ['d'.repeat(64), 'e'.repeat(64)], signed_by_me: true })];
    render(Inbox, { backend, version: 0, onOpen: () => {} });
    await waitFor(() => expect(document.querySelector('.signers')?.textContent).toBe('signed by dddddddd…, eeeeeeee… (yours among them)'));
  });

  it('asks the backend again when the filter changes or the inbox changed', async () => {
    const backend = new FakeBackend();
    const { rerender } = render(Inbox, { backend, version: 0, onOpen: () => {} });
    await screen.findByText('ready to sign');
    await fireEvent.click(screen.getByRole('tab', { name: 'Final' }));
    await waitFor(() => expect(backend.calls).toContain('inbox:final'));
    await rerender({ backend, version: 1, onOpen: () => {} });
    await waitFor(() => expect(backend.calls.filter((c) => c === 'inbox:final')).toHaveLength(2));
  });

  it('opens the review of the clicked request', async () => {
    const backend = new FakeBackend();
    const onOpen = vi.fn();
    render(Inbox, { backend, version: 0, onOpen });
    await fireEvent.click(await screen.findByText('ready to sign'));
    expect(onOpen).toHaveBeenCalledWith('a'.repeat(64));
  });

  it('shows hostile text as text, never as markup', async () => {
    const backend = new FakeBackend();
    backend.items = [item({ what: 'release <img src=x onerror=alert(1)>' })];
    render(Inbox, { backend, version: 0, onOpen: () => {} });
    await screen.findByText('release <img src=x onerror=alert(1)>');
    expect(document.querySelector('img')).toBeNull();
  });
});
