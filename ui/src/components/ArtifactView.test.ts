import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import ArtifactView from './ArtifactView.svelte';
import Review from './Review.svelte';
import { FakeBackend } from '../test/fake';
import type { ArtifactView as Artifact } from '../lib/ipc';

const REQ = 'a'.repeat(64);

function artifact(over: Partial<Artifact> = {}): Artifact {
  return {
    file: '/home/me/pad-1.1.0.tgz',
    sha256: '7'.repeat(64),
    identical: 3,
    only_in_artifact: [],
    differing: [],
    tool_written: ['package/package.json: npm pack rewrites it'],
    ...over,
  };
}

describe('ArtifactView', () => {
  it('puts files only in the artifact and differing files in red, tool-written ones in grey', () => {
    render(ArtifactView, {
      artifact: artifact({
        only_in_artifact: ['package/litellm_init.pth', 'package/<b>x</b>\\u{202e}'],
        differing: [
          {
            path: 'package/index.js',
            binary: false,
            diff: "--- a/index.js\n+++ b/package/index.js\n@@ -1,2 +1,3 @@\n module.exports = pad;\n+require('child_process').exec('<img src=x onerror=alert(1)>');\n-// end\n",
            truncated: true,
          },
          { path: 'package/logo.png', binary: true, diff: '', truncated: false },
        ],
      }),
    });
    const card = document.getElementById('artifact')!;
    expect(card.classList.contains('bad')).toBe(true);
    expect(document.getElementById('artifact-verdict')?.textContent).toBe('4 files not from the source');
    const only = [...document.querySelectorAll('#only-in-artifact .pathchip')].map((e) => e.textContent);
    expect(only).toEqual(['package/litellm_init.pth', 'package/<b>x</b>\\u{202e}']);
    expect(document.querySelector('#artifact b')).toBeNull();
    expect(document.getElementById('differing')?.textContent).toContain('package/index.js');
    // The differing file's diff: added lines green, removed red, its content as text only.
    const diffs = [...document.querySelectorAll('#artifact .filediff')];
    expect(diffs).toHaveLength(2);
    const added = diffs[0].querySelector('.udiff .add')!;
    expect(added.textContent).toBe("+require('child_process').exec('<img src=x onerror=alert(1)>');");
    expect(document.querySelector('#artifact img')).toBeNull();
    expect(diffs[0].querySelector('.udiff .del')?.textContent).toBe('-// end');
    expect(diffs[0].textContent).toContain('The diff is cut here');
    expect(diffs[1].textContent).toContain('Binary content: no line diff');
    expect(document.getElementById('tool-written')?.textContent).toBe('Written by the packaging tool: package/package.json: npm pack rewrites it');
    expect(screen.queryByText(/Every artifact file matches/)).toBeNull();
  });

  it('says plainly when every file matches', () => {
    render(ArtifactView, { artifact: artifact() });
    expect(document.getElementById('artifact')!.classList.contains('bad')).toBe(false);
    expect(document.getElementById('artifact-verdict')).toBeNull();
    expect(screen.getByText('Every artifact file matches the source or is written by the packaging tool.')).toBeTruthy();
    expect(document.getElementById('artifact')?.textContent).toContain('3 identical files');
  });

  it('compares an artifact file chosen on the review, and keeps it on refresh', async () => {
    const backend = new FakeBackend();
    backend.withArtifact = artifact({ only_in_artifact: ['package/evil.pth'] });
    const { rerender } = render(Review, { backend, request: REQ, version: 0, onBack: () => {} });
    await fireEvent.click(await screen.findByText('Compare an artifact file…'));
    const confirm = document.getElementById('artifact-confirm') as HTMLButtonElement;
    await fireEvent.input(document.getElementById('artifact-path')!, { target: { value: 'pad.tgz' } });
    expect(confirm.disabled).toBe(true);
    await fireEvent.input(document.getElementById('artifact-path')!, { target: { value: '/tmp/pad-1.1.0.tgz' } });
    await fireEvent.click(confirm);
    await waitFor(() => expect(document.getElementById('only-in-artifact')?.textContent).toContain('package/evil.pth'));
    expect(backend.calls).toContain(`review_artifact:${REQ}:/tmp/pad-1.1.0.tgz`);
    await rerender({ backend, request: REQ, version: 1, onBack: () => {} });
    await waitFor(() => expect(backend.calls.filter((c) => c.startsWith('review_artifact:'))).toHaveLength(2));
  });
});
