// Our full pages inside HistomicsUI: the project list (#histomics-label), a folder's project setup
// (#histomics-label/new/<folderId>) and a project's slide progress (#histomics-label/project/<projectId>).
import ProjectList from '../components/ProjectList.vue';
import ProjectSetup from '../components/ProjectSetup.vue';
import SlideProgress from '../components/SlideProgress.vue';
import {pageView, showPage} from './PageView';

const ProjectsView = pageView(ProjectList);
const SetupView = pageView(ProjectSetup);
const ProjectView = pageView(SlideProgress);

// Register the pages on HistomicsUI's router; `navigateTo(View, settings)` shows a body view.
export default function registerPages(router, navigateTo) {
    router.route('histomics-label', 'histomicsLabelProjects', () => showPage(ProjectsView, {}, navigateTo));
    router.route('histomics-label/new/:folderId', 'histomicsLabelSetup',
        (folderId) => showPage(SetupView, {folderId}, navigateTo));
    router.route('histomics-label/project/:projectId', 'histomicsLabelProject',
        (projectId) => showPage(ProjectView, {projectId}, navigateTo));
}

export {ProjectsView, SetupView, ProjectView};
