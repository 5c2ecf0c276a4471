import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import Review from './Review.svelte';
import { FakeBackend, MY_KEY, review } from '../test/fake';

const REQ = 'a'.repeat(64);

describe('Review', () => {
  it('lists failed checks first and keeps the sign button disabled when a check failed', async () => {
    const backend = new FakeBackend();
    backend.theReview = review({
      verdict: 'failing',
      verdict_line: 'do NOT sign: a check failed',
      can_sign: false,
      diff_digest_computed: '0'.repeat(64),
      checks: [
        { id: 'publisher-signature', title: 'publisher signature', status: 'passed', detail: 'valid' },
        { id: 'builder-agreement', title: 'builders', status: 'not-run', detail: 'no envelopes' },
        { id: 'diff-digest', title: 'diff digest', status: 'failed', detail: 'the record claims another diff' },
      ],
    });
    render(Review, { backend, request: REQ, version: 0, onBack: () => {} });
    await screen.findByText('do NOT sign: a check failed');
    const order = [...document.querySelectorAll('#checks li')].map((li) => li.getAttribute('data-check'));
    expect(order).toEqual(['diff-digest', 'builder-agreement', 'publisher-signature']);
    expect(screen.getByText('FAIL')).toBeTruthy();
    expect(screen.getByText('NOT RUN')).toBeTruthy();
    expect((document.getElementById('sign-open') as HTMLButtonElement).disabled).toBe(true);
    expect(document.getElementById('digest-status')?.textContent).toBe('MISMATCH');
    // The banner names what failed, so it is seen before any scrolling.
    expect(document.getElementById('failed-titles')?.textContent).toBe('Failed: diff digest');
  });

  it('enables signing when ready, shows the digest match, the disagreeing builder and the sighash', async () => {
    const backend = new FakeBackend();
    render(Review, { backend, request: REQ, version: 0, onBack: () => {} });
    await screen.findByText('ready to sign: every check passed');
    expect((document.getElementById('sign-open') as HTMLButtonElement).disabled).toBe(false);
    expect(document.getElementById('digest-status')?.textContent).toBe('MATCH');
    await fireEvent.click(screen.getByRole('tab', { name: 'Builders' }));
    expect(document.querySelector('tr[data-verdict="disagrees"]')).toBeTruthy();
    expect(screen.getByText('1 disagrees')).toBeTruthy();
    await fireEvent.click(screen.getByRole('tab', { name: 'Transaction' }));
    expect(document.getElementById('sighash')?.textContent).toBe('9'.repeat(64));
  });

  it('signs with the chosen keychain key through the backend, sending only ids', async () => {
    const backend = new FakeBackend();
    render(Review, { backend, request: REQ, version: 0, onBack: () => {} });
    await fireEvent.click(await screen.findByText('Sign…'));
    const confirm = await waitFor(() => {
      const b = document.getElementById('sign-confirm') as HTMLButtonElement;
      expect(b.disabled).toBe(false);
      return b;
    });
    await fireEvent.click(confirm);
    await screen.findByText('Signed.');
    expect(backend.calls).toContain(`sign:${REQ}:{"kind":"keychain","key_id":"${'c'.repeat(64)}"}:false`);
  });

  it('requires acknowledging the warnings before signing, and walks a Ledger user through it', async () => {
    const backend = new FakeBackend();
    backend.theReview = review({
      risk: [{ severity: 'high', code: 'install-script', path: 'package.json', detail: 'adds a postinstall script' }],
      warnings: ['high risk flag: package.json adds a postinstall script'],
    });
    render(Review, { backend, request: REQ, version: 0, onBack: () => {} });
    await fireEvent.click(await screen.findByText('Sign…'));
    await waitFor(() => expect(document.querySelector('#sign-dialog')?.textContent).toContain('high risk flag: package.json adds a postinstall script'));
    const confirm = document.getElementById('sign-confirm') as HTMLButtonElement;
    expect(confirm.disabled).toBe(true);
    await fireEvent.click(document.getElementById('ack-warnings')!);
    await waitFor(() => expect(confirm.disabled).toBe(false));
    await fireEvent.click(screen.getByLabelText(/Ledger/));
    expect(document.getElementById('ledger-steps')?.textContent).toContain('Bitcoin Cash');
    const screens = [...document.querySelectorAll('#ledger-screens li')].map((li) => li.textContent);
    expect(screens).toEqual(['Review output #1', 'Amount BCH 0', 'Accept — both buttons to approve', "Reject if you're not sure — both buttons here REJECT; right button to go on"]);
    backend.signError = { kind: 'signer', message: 'open the Bitcoin Cash app on the Ledger' };
    await fireEvent.click(confirm);
    await screen.findByText('open the Bitcoin Cash app on the Ledger');
    expect(confirm.textContent).toBe('Try again');
    expect(backend.calls.at(-1)).toBe(`sign:${REQ}:{"kind":"ledger"}:true`);
    backend.signError = { kind: 'rejected-on-device', message: 'the signature was rejected on the Ledger: nothing was signed' };
    await fireEvent.click(confirm);
    await waitFor(() => expect(document.getElementById('sign-error')?.textContent).toContain('You rejected the signature on the Ledger. Nothing was signed and nothing was sent.'));
    expect(confirm.textContent).toBe('Try again');
    backend.signError = { kind: 'device-unreachable', message: 'no Ledger found: connect and unlock it, open the Bitcoin Cash app, and retry' };
    await fireEvent.click(confirm);
    await waitFor(() => expect(document.getElementById('sign-error')?.textContent).toContain('Connect the Ledger, unlock it, open the Bitcoin Cash app'));
  });

  it('rejects with a reason', async () => {
    const backend = new FakeBackend();
    render(Review, { backend, request: REQ, version: 0, onBack: () => {} });
    await fireEvent.click(await screen.findByText('Reject…'));
    const confirm = document.getElementById('reject-confirm') as HTMLButtonElement;
    await waitFor(() => expect(screen.getByRole('option')).toBeTruthy());
    expect(confirm.disabled).toBe(true);
    await fireEvent.input(document.getElementById('reject-reason')!, { target: { value: 'the artifact is not the source' } });
    await fireEvent.click(confirm);
    await screen.findByText('Rejected.');
    expect(backend.calls).toContain(`reject:${REQ}:the artifact is not the source`);
  });

  it('rejects with a Ledger key on the device', async () => {
    const backend = new FakeBackend();
    backend.keys = [{ key_id: MY_KEY, label: 'desk ledger', kind: 'ledger', path: "m/45'/236'/0'/0/0" }];
    render(Review, { backend, request: REQ, version: 0, onBack: () => {} });
    await fireEvent.click(await screen.findByText('Reject…'));
    await waitFor(() => expect(screen.getByRole('option')).toBeTruthy());
    await fireEvent.input(document.getElementById('reject-reason')!, { target: { value: 'no' } });
    await fireEvent.click(document.getElementById('reject-confirm')!);
    await screen.findByText('Rejected.');
    expect(backend.calls).toContain('reject-signer:{"kind":"ledger"}');
  });
});

describe('Review progress and cancel', () => {
  it("shows the review's stages with n of total while it is checked, and Cancel stops it and returns to the inbox", async () => {
    const backend = new FakeBackend();
    backend.slowReview = true;
    let back = 0;
    render(Review, { backend, request: REQ, version: 0, onBack: () => (back += 1) });
    await waitFor(() => expect(document.getElementById('work-progress')).toBeTruthy());
    await waitFor(() => expect(backend.listeners.length).toBeGreaterThan(0));
    const stages = () => [...document.querySelectorAll('#review-stages li')];
    expect(stages().map((li) => li.textContent)).toEqual([
      'Recomputing the diff digest from your clone',
      "Checking the builders' attestations",
      'Scanning for risky changes',
    ]);

    // Another request's work is not this review's.
    backend.emit({ event: 'progress', work: 'b'.repeat(64), stage: 'Scanning for risky changes', done: 1, total: 2, unit: 'files' });
    backend.emit({ event: 'progress', work: REQ, stage: 'Recomputing the diff digest from your clone', done: 4210, total: 10003, unit: 'files' });
    await waitFor(() => expect(document.getElementById('work-count')?.textContent).toBe('4,210 of 10,003 files'));
    expect(document.getElementById('work-progress')?.textContent).toContain('Recomputing the diff digest from your clone');
    expect((document.querySelector('#work-progress .fill') as HTMLElement).style.width).toBe('42%');
    expect(stages()[0].classList.contains('current')).toBe(true);

    backend.emit({ event: 'progress', work: REQ, stage: 'Scanning for risky changes', done: 5000, total: 10003, unit: 'files' });
    await waitFor(() => expect(stages()[2].classList.contains('current')).toBe(true));
    expect(stages()[0].classList.contains('done')).toBe(true);
    expect(stages()[1].classList.contains('done')).toBe(true);
    expect(document.getElementById('sign-open')).toBeNull();

    (document.getElementById('work-cancel') as HTMLButtonElement).click();
    await waitFor(() => expect(back).toBe(1));
    expect(backend.calls).toContain(`cancel_work:${REQ}`);
    expect(document.getElementById('sign-open')).toBeNull();
  });

  it('hides the progress once the review arrives', async () => {
    const backend = new FakeBackend();
    backend.slowReview = true;
    render(Review, { backend, request: REQ, version: 0, onBack: () => {} });
    await waitFor(() => expect(document.getElementById('work-progress')).toBeTruthy());
    backend.finishReview();
    await screen.findByText('ready to sign: every check passed');
    expect(document.getElementById('work-progress')).toBeNull();
    expect(document.getElementById('review-stages')).toBeNull();
  });
});
