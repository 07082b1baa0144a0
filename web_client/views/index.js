import PageView from './PageView';
import mountVue from './mountVue';
import {ProjectsView, SetupView, ProjectView} from './pages';

export {PageView, ProjectsView, SetupView, ProjectView, mountVue};
