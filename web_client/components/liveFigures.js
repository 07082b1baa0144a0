// A mixin for panels that show live study figures: the component's `request()` (a rest.js promise) is
// fetched into `figures` when the panel is created, every 30 s while the browser tab is visible, when the tab
// becomes visible again, and on `refresh()`; a failure is shown with the component's `failure` text.
import {showError} from '../store';

const REFRESH_MS = 30000;

export default {
    data() {
        return {figures: null, loading: false, updated: null};
    },
    created() {
        this.refresh();
        this.refreshTimer = window.setInterval(() => {
            if (document.visibilityState === 'visible') {
                this.refresh();
            }
        }, REFRESH_MS);
        this.onVisibility = () => {
            if (document.visibilityState === 'visible' && Date.now() - (this.updated || 0) > REFRESH_MS) {
                this.refresh();
            }
        };
        document.addEventListener('visibilitychange', this.onVisibility);
    },
    computed: {
        // what the panel's LiveHeading shows: <live-heading v-bind="liveState" @refresh="refresh" />
        liveState() {
            return {loading: this.loading, updated: this.updated};
        }
    },
    beforeDestroy() {
        window.clearInterval(this.refreshTimer);
        document.removeEventListener('visibilitychange', this.onVisibility);
    },
    methods: {
        refresh() {
            if (this.loading) {
                return;
            }
            this.loading = true;
            this.request().done((figures) => {
                this.figures = figures;
                this.updated = Date.now();
            }).fail((xhr) => showError(this.failure, xhr)).always(() => {
                this.loading = false;
            });
        }
    }
};
