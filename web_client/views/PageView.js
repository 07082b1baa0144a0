// A full page of ours inside HistomicsUI: a Backbone body view that mounts one Vue component with props.
// HistomicsUI's app ignores navigating to the view class already shown, so each page gets its own class
// (pageView) and a route to the page already shown updates its props instead (showPage).
import Vue from 'vue';

import View from '@girder/core/views/View';

import '../stylesheets/histomicsLabel.styl';

const PageView = View.extend({
    initialize(settings) {
        const component = this.component;
        this.$el.html('<div class="h-hl-vue-root"></div>');
        // keyed by its props: another project or folder is a fresh component
        this.vm = new Vue({
            el: this.$('.h-hl-vue-root')[0],
            data: {props: settings.props || {}},
            render(h) {
                return h(component, {props: this.props, key: JSON.stringify(this.props)});
            }
        });
        this.constructor.current = this;
    },

    destroy() {
        this.vm.$destroy();
        if (this.constructor.current === this) {
            this.constructor.current = null;
        }
        return View.prototype.destroy.apply(this, arguments);
    }
});

// The page class of a component.
function pageView(component) {
    return PageView.extend({component}, {current: null});
}

// Show `Page` with `props`: update the page shown, else navigate to it with `navigateTo(View, settings)`.
function showPage(Page, props, navigateTo) {
    if (Page.current) {
        Page.current.vm.props = props;
    } else {
        navigateTo(Page, {props});
    }
}

export {pageView, showPage};
export default PageView;
