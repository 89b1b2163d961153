import { describe, expect, it } from 'vitest';
import { ApiError } from '../src/api';

describe('API errors', () => {
  it('name each offending field of a 400 by its JSON pointer', () => {
    const error = new ApiError(
      400,
      'validation_failed',
      '/parameters/duration: too small',
      [
        {
          path: '/parameters/duration',
          schema_path: '/properties/duration/exclusiveMinimum',
          message: 'too small'
        },
        { path: '/resources/cpu', message: 'must be positive' }
      ]
    );
    expect(error.fieldErrors).toEqual([
      { path: '/parameters/duration', message: 'too small' },
      { path: '/resources/cpu', message: 'must be positive' }
    ]);
  });

  it('have no field errors when the details are not a field list', () => {
    expect(
      new ApiError(402, 'payment_required', 'insufficient balance', {
        estimated: 3,
        balance: 1
      }).fieldErrors
    ).toEqual([]);
    expect(
      new ApiError(404, 'not_found', 'process 9 not found', null).fieldErrors
    ).toEqual([]);
  });
});
