import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import Inbox from './Inbox.svelte';
import Review from './Review.svelte';
import ReleaseStatus from './ReleaseStatus.svelte';
import { FakeBackend, NOW, item, review } from '../test/fake';

const REQ = 'a'.repeat(64);
const ALICE = '1'.repeat(64);

describe('Release status and flags', () => {
  it('says each state in words, the time left in the window, FLAGGED loudest', () => {
    const { rerender } = render(ReleaseStatus, { status: { state: 'in-window', closes_at: NOW + 3 * 3600 + 60, flagged_by: [] }, now: NOW });
    expect(document.querySelector('.release-status')?.textContent).toBe('in challenge window · 3 h 1 min left');
    rerender({ status: { state: 'verified', closes_at: null, flagged_by: [] }, now: NOW });
    expect(document.querySelector('.release-status')?.textContent).toBe('verified');
    rerender({ status: { state: 'pending', closes_at: null, flagged_by: [] }, now: NOW });
    expect(document.querySelector('.release-status')?.textContent).toBe('pending: not in a block yet');
    rerender({ status: { state: 'flagged', closes_at: null, flagged_by: [ALICE] }, now: NOW });
    const chip = document.querySelector('.release-status')!;
    expect(chip.textContent).toBe('FLAGGED by 1 key');
    expect(chip.classList.contains('bad')).toBe(true);
  });

  it('marks a flagged final release in the inbox, beside the verified one', async () => {
    const backend = new FakeBackend();
    backend.items = [
      item({ finalized: true, my_keys_to_sign: [], verdict: null, release_status: { state: 'flagged', closes_at: null, flagged_by: [ALICE] } }),
      item({ request: 'b'.repeat(64), finalized: true, my_keys_to_sign: [], verdict: null, release_status: { state: 'verified', closes_at: null, flagged_by: [] } }),
    ];
    render(Inbox, { backend, version: 0, onOpen: () => {} });
    await fireEvent.click(screen.getByRole('tab', { name: 'Final' }));
    await screen.findByText('FLAGGED by 1 key');
    expect(screen.getByText('verified')).toBeTruthy();
    const flagged = document.querySelector(`[data-request="${REQ}"]`)!;
    expect(flagged.classList.contains('failing')).toBe(true);
    expect(document.querySelector(`[data-request="${'b'.repeat(64)}"]`)!.classList.contains('failing')).toBe(false);
  });

  it('lists every flag in the review: counted first, who, why, and hostile reasons as text', async () => {
    const backend = new FakeBackend();
    backend.theReview = review({
      finalized: true,
      can_sign: false,
      release_status: { state: 'flagged', closes_at: null, flagged_by: [ALICE] },
      release_flags: [
        { severity: 'advisory', key_id: '2'.repeat(64), who: 'maintainer', counted: false, why: 'advisory: shown, never changes the status', reason: 'odd build log', evidence: [], created_at: NOW - 50, withdrawn: false },
        { severity: 'blocking', key_id: ALICE, who: 'maintainer', counted: true, why: 'counted: a blocking flag by a maintainer, inside the challenge window', reason: 'hides <img src=x onerror=alert(1)> \\u{202e}', evidence: ['https://ci.example/log/1'], created_at: NOW - 40, withdrawn: false },
      ],
    });
    render(Review, { backend, request: REQ, version: 0, onBack: () => {} });
    await screen.findByText('FLAGGED by 1 key');
    const flags = [...document.querySelectorAll('#release-flags li')];
    expect(flags.map((li) => li.getAttribute('data-counted'))).toEqual(['true', 'false']);
    expect(flags[0].textContent).toContain('COUNTED');
    expect(flags[0].textContent).toContain('by maintainer 11111111');
    expect(flags[0].textContent).toContain('hides <img src=x onerror=alert(1)> \\u{202e}');
    expect(flags[0].textContent).toContain('evidence: https://ci.example/log/1');
    expect(flags[1].textContent).toContain('not counted');
    expect(flags[1].textContent).toContain('advisory: shown, never changes the status');
    expect(document.querySelector('#release-flags img')).toBeNull();
  });

  it('shows no status or flags for a request that is not final', async () => {
    const backend = new FakeBackend();
    render(Review, { backend, request: REQ, version: 0, onBack: () => {} });
    await screen.findByText('ready to sign: every check passed');
    expect(document.getElementById('release-status')).toBeNull();
    expect(document.getElementById('release-flags')).toBeNull();
  });

  it("shows a rotation's policy changes in words, removals marked", async () => {
    const backend = new FakeBackend();
    backend.theReview = review({
      what: 'rotation',
      policy_changes: [`maintainer key ${'4'.repeat(64)} is ADDED`, `maintainer key ${'5'.repeat(64)} is REMOVED: it will count for nothing after the rotation`, 'signatures needed: 2 of 3 becomes 3 of 3'],
    });
    render(Review, { backend, request: REQ, version: 0, onBack: () => {} });
    await waitFor(() => expect(document.getElementById('policy-changes')).toBeTruthy());
    const lines = [...document.querySelectorAll('#policy-changes li')];
    expect(lines).toHaveLength(3);
    expect(lines[1].classList.contains('removed')).toBe(true);
    expect(lines[2].textContent).toBe('signatures needed: 2 of 3 becomes 3 of 3');
  });
});
