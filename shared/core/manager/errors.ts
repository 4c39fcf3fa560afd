/** Errors of the agent manager. Bundle rejections use BundleRejectedError from core/errors. */
import { codedError } from '../errors';

export class ManagerError extends codedError('manager_error') {
  override name = 'ManagerError';
}
