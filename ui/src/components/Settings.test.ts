import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import Settings from './Settings.svelte';
import { FakeBackend } from '../test/fake';

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
});
