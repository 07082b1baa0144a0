import HomeView from './HomeView';
import mountVue from './mountVue';

export {HomeView, mountVue};
