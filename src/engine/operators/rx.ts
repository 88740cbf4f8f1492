/**
 * @module engine/operators/rx
 * `@rx`: regular expression match (PCRE syntax, run in linear time), with captures.
 */
import { compileRegex, RegexSyntaxError } from '../regex/index.js';
import { OperatorParamError, type OperatorFactory } from './types.js';

export const rx: OperatorFactory = (param) => {
  let re;
  try {
    re = compileRegex(param);
  } catch (err) {
    if (err instanceof RegexSyntaxError) throw new OperatorParamError(`invalid regular expression: ${err.message}`);
    throw err;
  }
  return {
    evaluate(input, m) {
      if (!m.capturing) return re.test(input);
      const groups = re.exec(input);
      if (groups === null) return false;
      for (let i = 0; i < groups.length && i < 10; i++) m.capture(i, groups[i] ?? '');
      return true;
    },
  };
};
