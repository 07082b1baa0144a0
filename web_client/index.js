import * as rest from './rest';
import * as views from './views';

export {rest, views};
