// ts/model/families.ts: a model's family from the input names it declares, exactly those and no others.
import { expect } from 'chai';
import { familyForInputs } from '../ts/model/families.js';

describe('model family', () => {
  it('recognises smart-turn v2 and v3 by their input names, in any order', () => {
    expect(familyForInputs(['input_values', 'attention_mask'])?.id).to.equal('smart-turn-v2');
    expect(familyForInputs(['attention_mask', 'input_values'])?.id).to.equal('smart-turn-v2');
    expect(familyForInputs(['input_features'])?.id).to.equal('smart-turn-v3');
  });

  it('recognises nothing for a name more, a name fewer, or other names', () => {
    for (const names of [['input_values', 'attention_mask', 'extra'], ['input_values'], ['input_values', 'other'], ['input_features', 'attention_mask'], ['audio'], []]) {
      expect(familyForInputs(names), names.join(', ')).to.equal(undefined);
    }
  });
});
