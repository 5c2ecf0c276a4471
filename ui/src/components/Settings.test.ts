import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import Settings from './Settings.svelte';
import { FakeBackend, LEDGER_KEY, MY_KEY } from '../test/fake';

describe('Settings', () => {
  it('starts at login only once the user turns it on', async () => {
    const backend = new FakeBackend();
    render(Settings, { backend });
    const box = (await screen.findByLabelText('Start ChainLock when I log in')) as HTMLInputElement;
    expect(box.checked).toBe(false);
    await fireEvent.click(box);
    await waitFor(() => expect(backend.calls).toContain('autostart:true'));
    await waitFor(() => expect(box.checked).toBe(true));
  });

  it('watches a package and shows the genesis it pinned, to compare; errors said plainly', async () => {
    const backend = new FakeBackend();
    render(Settings, { backend });
    const add = (await screen.findByText('Watch')) as HTMLButtonElement;
    expect(add.disabled).toBe(true);
    await fireEvent.input(document.getElementById('watch-remote')!, { target: { value: 'file:///srv/git/pad.git' } });
    await fireEvent.input(document.getElementById('watch-clone')!, { target: { value: '/home/me/src/pad' } });
    backend.watchError = new Error('no .chainlock/genesis in /home/me/src/pad and no genesis request on file:///srv/git/pad.git');
    await fireEvent.click(add);
    await waitFor(() => expect(document.getElementById('watch-error')?.textContent).toContain('no genesis request'));
    expect(document.getElementById('watch-pinned')).toBeNull();
    backend.watchError = null;
    await fireEvent.click(add);
    await waitFor(() => expect(document.getElementById('watch-pinned')?.textContent).toContain('9'.repeat(64)));
    expect(document.getElementById('watch-pinned')?.textContent).toContain('Compare this digest with another maintainer');
    expect(document.getElementById('watch-error')).toBeNull();
    expect(backend.calls).toContain('watch_package:file:///srv/git/pad.git:/home/me/src/pad');
  });

  it('adds a Ledger after showing its key id, and renames a key', async () => {
    const backend = new FakeBackend();
    render(Settings, { backend });
    await fireEvent.click(await screen.findByText('Read key from the Ledger'));
    await waitFor(() => expect(document.getElementById('ledger-key-id')?.textContent).toBe(LEDGER_KEY));
    const add = document.getElementById('ledger-add') as HTMLButtonElement;
    expect(add.disabled).toBe(true);
    await fireEvent.input(document.getElementById('ledger-label')!, { target: { value: 'desk ledger' } });
    await fireEvent.click(add);
    await waitFor(() => expect(document.querySelector(`[data-key='${LEDGER_KEY}']`)?.textContent).toContain('desk ledger'));
    expect(document.querySelector(`[data-key='${LEDGER_KEY}']`)?.getAttribute('data-kind')).toBe('ledger');
    expect(backend.calls).toContain(`add_ledger_key:${LEDGER_KEY}:desk ledger`);

    await fireEvent.click(document.querySelector(`[data-key='${MY_KEY}'] .rename-open`)!);
    await fireEvent.input(document.getElementById('rename-input')!, { target: { value: 'old laptop' } });
    await fireEvent.click(document.getElementById('rename-save')!);
    await waitFor(() => expect(document.querySelector(`[data-key='${MY_KEY}'] .label`)?.textContent).toBe('old laptop'));
  });

  it('says what to do when no Ledger answers', async () => {
    const backend = new FakeBackend();
    backend.ledgerError = { kind: 'device-unreachable', message: 'no Ledger found: connect and unlock it, open the Bitcoin Cash app, and retry' };
    render(Settings, { backend });
    await fireEvent.click(await screen.findByText('Read key from the Ledger'));
    await waitFor(() => expect(document.getElementById('keys-error')?.textContent).toContain('open the Bitcoin Cash app'));
    expect(document.getElementById('ledger-found')).toBeNull();
  });
});
