import View from '@girder/core/views/View';

import HomePanel from '../vue/HomePanel.vue';
import mountVue from './mountVue';
import '../stylesheets/histomicsLabel.styl';

const HomeView = View.extend({
    initialize() {
        this.render();
    },

    render() {
        this._destroyVue();
        this.vm = mountVue(this, HomePanel);
        return this;
    },

    destroy() {
        this._destroyVue();
        return View.prototype.destroy.apply(this, arguments);
    },

    _destroyVue() {
        if (this.vm) {
            this.vm.$destroy();
            this.vm = null;
        }
    }
});

export default HomeView;
