import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import App from '../App.svelte';
import Review from './Review.svelte';
import { FakeBackend } from '../test/fake';

describe('Opening a request file', () => {
  it('reviews the file with every check, says it can never be signed, and offers no sign or reject', async () => {
    const backend = new FakeBackend();
    render(Review, { backend, request: '', file: '/home/me/request.json', version: 0, onBack: () => {} });
    await screen.findByText('ready to sign: every check passed');
    expect(backend.calls).toContain('open_request_file:/home/me/request.json');
    expect(backend.calls.some((c) => c.startsWith('review:'))).toBe(false);
    expect(document.getElementById('from-file')?.textContent).toContain('can never be signed');
    expect(document.getElementById('from-file')?.textContent).toContain('/home/me/request.json');
    expect(document.getElementById('sign-open')).toBeNull();
    expect(document.getElementById('reject-open')).toBeNull();
    expect(document.getElementById('finalize')).toBeNull();
    expect(document.querySelectorAll('#checks li')).toHaveLength(2);
    // Not "READY": nothing opened from a file is ready to sign here.
    expect(document.getElementById('verdict-chip')?.textContent).toBe('CHECKS PASS');
  });

  it('shows why a bad file was refused', async () => {
    const backend = new FakeBackend();
    backend.fileError = { kind: 'refused', message: '/tmp/x.json is not a valid chainlock/1 signing request (line 1): ask the publisher to re-create it' };
    render(Review, { backend, request: '', file: '/tmp/x.json', version: 0, onBack: () => {} });
    const error = await waitFor(() => {
      const e = document.getElementById('review-error');
      expect(e).toBeTruthy();
      return e!;
    });
    expect(error.textContent).toContain('ask the publisher to re-create it');
    expect(document.getElementById('verdict')).toBeNull();
  });

  it('opens from the top bar with a full path only', async () => {
    const backend = new FakeBackend();
    render(App, { backend });
    await fireEvent.click(await screen.findByText('Open request file…'));
    const confirm = document.getElementById('open-file-confirm') as HTMLButtonElement;
    expect(document.getElementById('open-file-dialog')?.textContent).toContain('can never be signed here');
    await fireEvent.input(document.getElementById('open-file-path')!, { target: { value: 'request.json' } });
    expect(confirm.disabled).toBe(true);
    await fireEvent.input(document.getElementById('open-file-path')!, { target: { value: '/srv/air-gap/request.json' } });
    expect(confirm.disabled).toBe(false);
    await fireEvent.click(confirm);
    await waitFor(() => expect(backend.calls).toContain('open_request_file:/srv/air-gap/request.json'));
    await screen.findByText(/can never be signed here/);
  });

  it('opens the file a launch or a second launch names', async () => {
    const backend = new FakeBackend();
    render(App, { backend });
    await waitFor(() => expect(backend.listeners.length).toBe(1));
    backend.emit({ event: 'open-request-file', path: '/home/me/from-mail.json' });
    await waitFor(() => expect(backend.calls).toContain('open_request_file:/home/me/from-mail.json'));
    await screen.findByText(/from a file: cannot be signed/);
  });
});
