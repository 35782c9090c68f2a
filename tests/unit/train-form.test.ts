// The Train tab's form: restored field by field after a reload, and its problems named by the labels
// the user sees, before Train (the same bounds as the worker's checks).
import { describe, expect, it } from 'vitest';
import { configNotes, DEFAULT_TRAIN_FORM, formConfig, formResolution, restoreTrainForm, trainingProblem, type TrainForm } from '../../src/ui/train-form';
import { attentionResolutions, describeConfig } from '../../src/nn/config';
import { PRESETS } from '../../src/nn/presets';

describe('the Train form', () => {
  it('comes back after a reload as it was typed, each unreadable field as its default', () => {
    const typed: TrainForm = { ...DEFAULT_TRAIN_FORM, data: 'user', userSize: 16, name: 'shapes', steps: 40, options: { ...DEFAULT_TRAIN_FORM.options, lr: 0.003, batch: 2 }, fields: { ...DEFAULT_TRAIN_FORM.fields, preset: 'custom', ch_mult: '1' } };
    expect(restoreTrainForm(JSON.stringify(typed))).toEqual(typed);
    expect(restoreTrainForm(null)).toEqual(DEFAULT_TRAIN_FORM);
    expect(restoreTrainForm('{not json')).toEqual(DEFAULT_TRAIN_FORM);
    const stale = restoreTrainForm(JSON.stringify({ data: 'emoji64', userSize: 64, steps: '40', name: 7, fields: { preset: 'huge', ch: 64 }, options: { lr: 'fast', batch: 4 } }));
    expect(stale.data).toBe('emoji16');
    expect(stale.userSize).toBe(32);
    // The user's images train at the size chosen for them; the emoji at theirs.
    expect([formResolution(typed), formResolution({ data: 'user', userSize: 32 }), formResolution({ data: 'emoji16', userSize: 32 })]).toEqual([16, 32, 16]);
    expect(stale.steps).toBe(1000);
    expect(stale.name).toBe('my run');
    expect(stale.fields).toEqual({ ...DEFAULT_TRAIN_FORM.fields, ch: 64, preset: 'custom' });
    expect(stale.options).toEqual({ ...DEFAULT_TRAIN_FORM.options, batch: 4 });
    // A stored value the checks refuse comes back as its default, and options the tab does not show
    // are never taken from storage: nothing stored can keep Train disabled.
    const refused = restoreTrainForm(JSON.stringify({ steps: 0, previewEvery: -1, options: { lr: 0, lrDecay: 'linear', beta1: 1, seed: -1, emaRate: 0.5 } }));
    expect(refused.options).toEqual({ ...DEFAULT_TRAIN_FORM.options, emaRate: 0.5 });
    expect([refused.steps, refused.previewEvery]).toEqual([DEFAULT_TRAIN_FORM.steps, DEFAULT_TRAIN_FORM.previewEvery]);
    expect(trainingProblem(refused)).toBeUndefined();
  });

  it('names the first bad training field by its label, empty and fractional values included', () => {
    const f = { options: DEFAULT_TRAIN_FORM.options, steps: 1000, checkpointEvery: 50, previewEvery: 100 };
    expect(trainingProblem(f)).toBeUndefined();
    expect(trainingProblem({ ...f, options: { ...f.options, lr: 0 } })).toBe('Training: Learning rate must be a number in (0, 1), got 0');
    expect(trainingProblem({ ...f, options: { ...f.options, emaRate: NaN } })).toBe('Training: EMA rate must be a number in [0, 1), got no number');
    expect(trainingProblem({ ...f, options: { ...f.options, batch: 1000 } })).toBe('Training: Batch size must be an integer in [1, 256], got 1000');
    expect(trainingProblem({ ...f, options: { ...f.options, gradClip: -1 } })).toMatch(/^Training: Grad clip must be a number above 0/);
    expect(trainingProblem({ ...f, steps: 2.5 })).toBe('Training: Steps must be an integer in [1, 10^8], got 2.5');
    expect(trainingProblem({ ...f, checkpointEvery: 0 })).toMatch(/^Training: Checkpoint every must be an integer/);
    expect(trainingProblem({ ...f, previewEvery: -1 })).toBe('Training: Preview every must be an integer from 0 (no previews), got -1');
  });

  it('names bad model fields as the form shows them, and says where attn_resolutions does nothing', () => {
    const fields = DEFAULT_TRAIN_FORM.fields;
    expect(formConfig(fields, 16)).toEqual(PRESETS.bundled);
    expect(() => formConfig({ ...fields, ch: 33 }, 16)).toThrow('Model: ch must be a positive multiple of 32 (GroupNorm splits every width into 32 groups), got 33');
    expect(() => formConfig({ ...fields, ch_mult: 'abc' }, 16)).toThrow('Model: ch_mult must be a comma-separated list of positive integers, such as 1,2,2; got "abc"');
    expect(() => formConfig({ ...fields, attn_resolutions: '8,x' }, 16)).toThrow(/^Model: attn_resolutions must be .* \(or empty\)/);
    expect(configNotes(formConfig(fields, 16))).toEqual([]);
    // tiny (attention at 8 px) on 32 px images: its levels are 32 and 16 px.
    const tiny32 = formConfig({ ...fields, ch_mult: '1,2', attn_resolutions: '8' }, 32);
    expect(attentionResolutions(tiny32)).toEqual([]);
    expect(describeConfig(tiny32)).toMatch(/attention in the middle block only · 32 px$/);
    expect(configNotes(tiny32)).toEqual(["attn_resolutions 8 px adds no attention: this model's levels are 32, 16 px (attention runs at a level of a listed size, and always in the middle block)."]);
  });
});
